/* ip.c — IP addresses as 16 bytes (IPv4 mapped into ::ffff:0:0/96): strict parsing,
 * canonical text (dotted IPv4, RFC 5952 IPv6) and CIDR ranges for queries. */
#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "err.h"
#include "event.h"

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* Dotted quad, our own parser: libcs differ on "010.1.1.1" (octal or decimal?), so a
 * leading zero is refused outright, as are fewer than four parts and anything else. */
static int v4_parse(const char *s, size_t n, uint8_t out[4])
{
	size_t i = 0;
	for (int part = 0; part < 4; part++) {
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return SIEM_EPARSE;
			i++;
		}
		size_t start = i;
		unsigned v = 0;
		while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 3)
			v = v * 10 + (unsigned)(s[i++] - '0');
		if (i == start || v > 255 || (s[start] == '0' && i - start > 1))
			return SIEM_EPARSE;
		out[part] = (uint8_t)v;
	}
	return i == n ? 0 : SIEM_EPARSE;
}

int ip_parse(const char *s, size_t n, uint8_t out[16])
{
	if (!s)
		return SIEM_EPARSE;
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
		if (!memchr(s, ':', n))
			return SIEM_EPARSE;
	}
	if (n == 0 || n >= INET6_ADDRSTRLEN)
		return SIEM_EPARSE;
	if (!memchr(s, ':', n)) {
		memcpy(out, v4_mapped, 12);
		return v4_parse(s, n, out + 12);
	}

	/* IPv6. Zone ids ("%eth0") name an interface of the sender, not an address. */
	if (memchr(s, '%', n) || memchr(s, '\0', n))
		return SIEM_EPARSE;
	const char *dot = memchr(s, '.', n);
	if (dot) {
		/* Embedded IPv4 tail: hold it to the same strict rules. */
		size_t t = (size_t)(dot - s);
		while (t > 0 && s[t - 1] != ':')
			t--;
		uint8_t tmp[4];
		if (v4_parse(s + t, n - t, tmp))
			return SIEM_EPARSE;
	}
	char buf[INET6_ADDRSTRLEN];
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, out) == 1 ? 0 : SIEM_EPARSE;
}

size_t ip_format(const uint8_t ip[16], char buf[46])
{
	size_t o = 0;
	if (!memcmp(ip, v4_mapped, sizeof(v4_mapped))) {
		for (int i = 12; i < 16; i++) {
			unsigned v = ip[i];
			if (i > 12)
				buf[o++] = '.';
			if (v >= 100)
				buf[o++] = (char)('0' + v / 100);
			if (v >= 10)
				buf[o++] = (char)('0' + v / 10 % 10);
			buf[o++] = (char)('0' + v % 10);
		}
		buf[o] = '\0';
		return o;
	}

	/* RFC 5952: lowercase hex without leading zeros, the longest run (first on a tie)
	 * of two or more zero groups written "::". Done here rather than by inet_ntop, which
	 * on glibc prints "::1:2" as "::0.1.0.2". */
	unsigned w[8];
	for (int i = 0; i < 8; i++)
		w[i] = (unsigned)ip[2 * i] << 8 | ip[2 * i + 1];
	int best = -1, best_len = 0;
	for (int i = 0; i < 8;) {
		if (w[i]) {
			i++;
			continue;
		}
		int j = i;
		while (j < 8 && !w[j])
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j;
	}
	if (best_len < 2)
		best = -1, best_len = 0;

	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 8;) {
		if (i == best) {
			buf[o++] = ':';
			buf[o++] = ':';
			i += best_len;
			continue;
		}
		if (i > 0 && i != best + best_len)
			buf[o++] = ':';
		bool started = false;
		for (int sh = 12; sh >= 0; sh -= 4) {
			unsigned nib = (w[i] >> sh) & 0xf;
			if (nib || started || sh == 0) {
				buf[o++] = hex[nib];
				started = true;
			}
		}
		i++;
	}
	buf[o] = '\0';
	return o;
}

int cidr_parse(const char *s, size_t n, uint8_t lo[16], uint8_t hi[16])
{
	if (!s)
		return SIEM_EPARSE;
	const char *slash = memchr(s, '/', n);
	size_t alen = slash ? (size_t)(slash - s) : n;
	uint8_t addr[16];
	if (ip_parse(s, alen, addr))
		return SIEM_EPARSE;

	/* The prefix counts in the family the address was written in: "10.0.0.0/8" is
	 * ::ffff:10.0.0.0/104, "::ffff:10.0.0.0/104" is the same range. */
	bool v6 = memchr(s, ':', alen) != NULL;
	unsigned max = v6 ? 128 : 32, plen = max;
	if (slash) {
		const char *p = slash + 1;
		size_t pn = n - alen - 1;
		if (pn == 0 || pn > 3 || (p[0] == '0' && pn > 1))
			return SIEM_EPARSE;
		plen = 0;
		for (size_t i = 0; i < pn; i++) {
			if (p[i] < '0' || p[i] > '9')
				return SIEM_EPARSE;
			plen = plen * 10 + (unsigned)(p[i] - '0');
		}
		if (plen > max)
			return SIEM_EPARSE;
	}
	if (!v6)
		plen += 96;

	/* Host bits are masked, not refused: "10.1.2.3/8" means 10.0.0.0/8. */
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = plen >= 8 * (i + 1) ? 8 : plen > 8 * i ? plen - 8 * i : 0;
		uint8_t m = (uint8_t)(0xff00u >> bits);
		lo[i] = addr[i] & m;
		hi[i] = addr[i] | (uint8_t)~m;
	}
	return 0;
}
