/* fieldmap.c — rules/mapping.yml (logsource and field mapping, as data) embedded into the
 * binary at build time with .incbin, so the hub needs no data file to run. */
#include <stddef.h>

#include "detect/sigma_int.h"

#if defined(__ELF__)
/* The path is relative to the directory the compiler runs in: the repository root. */
__asm__(".pushsection .rodata\n"
	".global sigma_mapping_text\n"
	".type sigma_mapping_text, @object\n"
	".balign 16\n"
	"sigma_mapping_text:\n"
	".incbin \"rules/mapping.yml\"\n"
	"sigma_mapping_text_end:\n"
	".byte 0\n"
	".size sigma_mapping_text, . - sigma_mapping_text\n"
	".global sigma_mapping_len\n"
	".type sigma_mapping_len, @object\n"
	".balign 8\n"
	"sigma_mapping_len:\n"
	".quad sigma_mapping_text_end - sigma_mapping_text\n"
	".size sigma_mapping_len, 8\n"
	".popsection\n");
#else
const char sigma_mapping_text[] = "logsources: {}\n";
const size_t sigma_mapping_len = sizeof(sigma_mapping_text) - 1;
#endif
