/* decoders_builtin.c — the built-in decoder files (the .yml files of decoders/) embedded into the
 * binary with .incbin, so the hub and the agent decode without any data file; listed in the order
 * they are tried (pam first: its lines come under many programs' names). */
#include <stddef.h>

#include "parse/decode_int.h"

#if defined(__ELF__)
/* The path is relative to the directory the compiler runs in: the repository root. Each
 * file ends with a NUL byte. */
#define EMBED(sym, path)                                                                        \
	__asm__(".pushsection .rodata\n.balign 16\n.local " #sym "\n" #sym ":\n.incbin \"" path \
		"\"\n.byte 0\n.popsection\n");                                                  \
	extern const char sym[]
#else
#define EMBED(sym, path) static const char sym[] = "decoders: []\n"
#endif

EMBED(dec_pam, "decoders/pam.yml");
EMBED(dec_sshd, "decoders/sshd.yml");
EMBED(dec_sudo, "decoders/sudo.yml");
EMBED(dec_su, "decoders/su.yml");
EMBED(dec_shadow, "decoders/shadow.yml");
EMBED(dec_login, "decoders/login.yml");
EMBED(dec_ftpd, "decoders/ftpd.yml");
EMBED(dec_firewall, "decoders/firewall.yml");
EMBED(dec_web, "decoders/web.yml");

const struct builtin_file decoder_builtin_files[] = {
    {"pam.yml", dec_pam},   {"sshd.yml", dec_sshd},	    {"sudo.yml", dec_sudo},
    {"su.yml", dec_su},	    {"shadow.yml", dec_shadow},	    {"login.yml", dec_login},
    {"ftpd.yml", dec_ftpd}, {"firewall.yml", dec_firewall}, {"web.yml", dec_web},
};
const size_t decoder_builtin_nfiles =
    sizeof(decoder_builtin_files) / sizeof(decoder_builtin_files[0]);
