/* sender_win.c — sender.h over WinHTTP (Windows): pooled keep-alive connections, TLS checked
 * against the Windows certificate store unless --insecure, optional gzip, Retry-After. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <winhttp.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/gz.h"
#include "agent/sender.h"
#include "core/log.h"
#include "core/strbuf.h"

#define REPLY_MAX ((size_t)1 << 20)

struct sender {
	HINTERNET session, conn;
	wchar_t path[1024];
	wchar_t headers[1400];
	bool secure, insecure, gzip;
	DWORD timeout_ms;
};

int sender_open(struct sender **out, const struct sender_config *cfg)
{
	struct sender *s = calloc(1, sizeof(*s));
	wchar_t url[2048], host[256], key[1100];
	URL_COMPONENTS uc = {0};
	*out = NULL;
	if (!s)
		return -ENOMEM;
	MultiByteToWideChar(CP_UTF8, 0, cfg->server, -1, url, 2048);
	MultiByteToWideChar(CP_UTF8, 0, cfg->api_key, -1, key, 1100);
	uc.dwStructSize = sizeof(uc);
	uc.lpszHostName = host;
	uc.dwHostNameLength = 256;
	uc.lpszUrlPath = s->path;
	uc.dwUrlPathLength = 1000;
	if (!WinHttpCrackUrl(url, 0, 0, &uc)) {
		log_error("agent", "cannot parse the server URL '%s'", cfg->server);
		free(s);
		return -EINVAL;
	}
	size_t pn = wcslen(s->path);
	while (pn && s->path[pn - 1] == L'/')
		s->path[--pn] = L'\0';
	if (pn < 7 || wcscmp(s->path + pn - 7, L"/ingest"))
		wcscat_s(s->path, 1024, L"/ingest");
	s->secure = uc.nScheme == INTERNET_SCHEME_HTTPS;
	if (!s->secure && !cfg->allow_http) {
		/* The API key goes in every request: in clear text only when asked for. */
		log_error("agent", "the server URL is not https:// (see --insecure-http)");
		free(s);
		return -EINVAL;
	}
	s->insecure = cfg->insecure;
	s->gzip = cfg->gzip;
	s->timeout_ms = (DWORD)cfg->timeout_s * 1000;
	if (cfg->ca_file)
		log_warn("agent", "--ca is not used on Windows: add the hub's CA to the machine's "
				  "Trusted Root store");
	swprintf(s->headers, 1400, L"X-API-Key: %ls\r\nContent-Type: application/x-ndjson\r\n%ls",
		 key, s->gzip ? L"Content-Encoding: gzip\r\n" : L"");
	s->session = WinHttpOpen(L"minisiem-agent", WINHTTP_ACCESS_TYPE_DEFAULT_PROXY,
				 WINHTTP_NO_PROXY_NAME, WINHTTP_NO_PROXY_BYPASS, 0);
	if (!s->session || !(s->conn = WinHttpConnect(s->session, host, uc.nPort, 0))) {
		log_error("agent", "cannot set up WinHTTP (error %lu)",
			  (unsigned long)GetLastError());
		sender_close(s);
		return -EIO;
	}
	*out = s;
	return 0;
}

void sender_close(struct sender *s)
{
	if (!s)
		return;
	if (s->conn)
		WinHttpCloseHandle(s->conn);
	if (s->session)
		WinHttpCloseHandle(s->session);
	free(s);
}

int sender_post(struct sender *s, const char *body, size_t n, struct sender_reply *r)
{
	char *gz = NULL;
	size_t gz_n = 0;
	int rc = -EIO;
	struct strbuf resp;
	memset(r, 0, sizeof(*r));
	strbuf_init(&resp, REPLY_MAX);
	if (s->gzip && (rc = gz_compress(body, n, &gz, &gz_n)) < 0) {
		snprintf(r->err, sizeof(r->err), "gzip failed");
		return rc;
	}
	HINTERNET req =
	    WinHttpOpenRequest(s->conn, L"POST", s->path, NULL, WINHTTP_NO_REFERER,
			       WINHTTP_DEFAULT_ACCEPT_TYPES, s->secure ? WINHTTP_FLAG_SECURE : 0);
	if (!req)
		goto fail;
	WinHttpSetTimeouts(req, 10000, 10000, (int)s->timeout_ms, (int)s->timeout_ms);
	if (s->secure && s->insecure) {
		DWORD f = SECURITY_FLAG_IGNORE_UNKNOWN_CA | SECURITY_FLAG_IGNORE_CERT_DATE_INVALID |
			  SECURITY_FLAG_IGNORE_CERT_CN_INVALID |
			  SECURITY_FLAG_IGNORE_CERT_WRONG_USAGE;
		WinHttpSetOption(req, WINHTTP_OPTION_SECURITY_FLAGS, &f, sizeof(f));
	}
	const void *data = gz ? gz : body;
	DWORD len = (DWORD)(gz ? gz_n : n);
	if (!WinHttpSendRequest(req, s->headers, (DWORD)-1L, (LPVOID)data, len, len, 0) ||
	    !WinHttpReceiveResponse(req, NULL))
		goto fail;
	DWORD status = 0, sz = sizeof(status), ra = 0;
	WinHttpQueryHeaders(req, WINHTTP_QUERY_STATUS_CODE | WINHTTP_QUERY_FLAG_NUMBER,
			    WINHTTP_HEADER_NAME_BY_INDEX, &status, &sz, WINHTTP_NO_HEADER_INDEX);
	sz = sizeof(ra);
	if (WinHttpQueryHeaders(req, WINHTTP_QUERY_RETRY_AFTER | WINHTTP_QUERY_FLAG_NUMBER,
				WINHTTP_HEADER_NAME_BY_INDEX, &ra, &sz, WINHTTP_NO_HEADER_INDEX))
		r->retry_after = ra;
	r->status = (long)status;
	for (;;) {
		char buf[8192];
		DWORD got = 0;
		if (!WinHttpReadData(req, buf, sizeof(buf), &got) || got == 0)
			break;
		strbuf_add(&resp, buf, got);
	}
	strbuf_add(&resp, "", 0);
	r->body = strbuf_detach(&resp, &r->body_n);
	WinHttpCloseHandle(req);
	free(gz);
	return 0;
fail:
	snprintf(r->err, sizeof(r->err), "WinHTTP error %lu", (unsigned long)GetLastError());
	if (req)
		WinHttpCloseHandle(req);
	strbuf_release(&resp);
	free(gz);
	return -EIO;
}

void sender_reply_free(struct sender_reply *r)
{
	free(r->body);
	r->body = NULL;
}
