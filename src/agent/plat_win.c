/* plat_win.c — plat.h on Windows: FlushFileBuffers and MoveFileEx(WRITE_THROUGH) for durable
 * files, an event object that cuts a sleep short, BCryptGenRandom. */
#define WIN32_LEAN_AND_MEAN
#include <windows.h>

#include <bcrypt.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/plat.h"

static HANDLE wake_ev;

static int werr(void)
{
	switch (GetLastError()) {
	case ERROR_FILE_NOT_FOUND:
	case ERROR_PATH_NOT_FOUND:
		return -ENOENT;
	case ERROR_ALREADY_EXISTS:
	case ERROR_FILE_EXISTS:
		return -EEXIST;
	case ERROR_ACCESS_DENIED:
		return -EACCES;
	case ERROR_DISK_FULL:
	case ERROR_HANDLE_DISK_FULL:
		return -ENOSPC;
	case ERROR_NOT_ENOUGH_MEMORY:
	case ERROR_OUTOFMEMORY:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

int64_t plat_mono_ms(void)
{
	return (int64_t)GetTickCount64();
}

void plat_sleep_ms(int64_t ms)
{
	if (!wake_ev)
		wake_ev = CreateEventW(NULL, FALSE, FALSE, NULL);
	if (ms <= 0)
		return;
	WaitForSingleObject(wake_ev, (DWORD)(ms > 60000 ? 60000 : ms));
}

void plat_wake(void)
{
	if (wake_ev)
		SetEvent(wake_ev);
}

void plat_random(void *p, size_t n)
{
	BCryptGenRandom(NULL, p, (ULONG)n, BCRYPT_USE_SYSTEM_PREFERRED_RNG);
}

const char *plat_hostname(void)
{
	static char name[256];
	DWORD n = sizeof(name);
	if (!name[0] && !GetComputerNameExA(ComputerNameDnsHostname, name, &n))
		snprintf(name, sizeof(name), "unknown");
	return name;
}

int plat_mkdir(const char *dir)
{
	return CreateDirectoryA(dir, NULL) || GetLastError() == ERROR_ALREADY_EXISTS ? 0 : werr();
}

static int write_tmp(const char *tmp, const void *p, size_t n)
{
	HANDLE h =
	    CreateFileA(tmp, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
	const char *c = p;
	int rc = 0;
	if (h == INVALID_HANDLE_VALUE)
		return werr();
	while (n && rc == 0) {
		DWORD w = 0, k = n > (1u << 30) ? (1u << 30) : (DWORD)n;
		if (!WriteFile(h, c, k, &w, NULL))
			rc = werr();
		c += w;
		n -= w;
	}
	if (rc == 0 && !FlushFileBuffers(h))
		rc = werr();
	CloseHandle(h);
	if (rc < 0)
		DeleteFileA(tmp);
	return rc;
}

int plat_write_new(const char *tmp, const char *path, const void *p, size_t n)
{
	int rc = write_tmp(tmp, p, n);
	if (rc < 0)
		return rc;
	if (!MoveFileExA(tmp, path, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
		rc = werr();
		DeleteFileA(tmp);
	}
	return rc;
}

int plat_read_file(const char *path, size_t max, char **out, size_t *n)
{
	LARGE_INTEGER size;
	int rc = 0;
	char *buf = NULL;
	size_t have = 0;
	*out = NULL;
	*n = 0;
	HANDLE h = CreateFileA(path, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL,
			       OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
	if (h == INVALID_HANDLE_VALUE)
		return werr();
	if (!GetFileSizeEx(h, &size)) {
		rc = werr();
		goto out;
	}
	if ((uint64_t)size.QuadPart > max) {
		rc = -E2BIG;
		goto out;
	}
	if (!(buf = malloc((size_t)size.QuadPart + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	while (have < (size_t)size.QuadPart) {
		DWORD r = 0;
		if (!ReadFile(h, buf + have, (DWORD)((size_t)size.QuadPart - have), &r, NULL)) {
			rc = werr();
			goto out;
		}
		if (r == 0)
			break;
		have += r;
	}
	buf[have] = '\0';
	*out = buf;
	*n = have;
	buf = NULL;
out:
	free(buf);
	CloseHandle(h);
	return rc;
}

int plat_file_size(const char *path, int64_t *size)
{
	WIN32_FILE_ATTRIBUTE_DATA d;
	if (!GetFileAttributesExA(path, GetFileExInfoStandard, &d))
		return werr();
	*size = (int64_t)(((uint64_t)d.nFileSizeHigh << 32) | d.nFileSizeLow);
	return 0;
}

int plat_unlink(const char *path)
{
	return DeleteFileA(path) ? 0 : werr();
}

int plat_rename(const char *from, const char *to)
{
	return MoveFileExA(from, to, MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH) ? 0
											 : werr();
}

int plat_list(const char *dir, int (*cb)(void *ctx, const char *name), void *ctx)
{
	char pat[4200];
	WIN32_FIND_DATAA fd;
	int rc = 0;
	snprintf(pat, sizeof(pat), "%s\\*", dir);
	HANDLE h = FindFirstFileA(pat, &fd);
	if (h == INVALID_HANDLE_VALUE)
		return GetLastError() == ERROR_FILE_NOT_FOUND ? 0 : werr();
	do {
		if (!strcmp(fd.cFileName, ".") || !strcmp(fd.cFileName, ".."))
			continue;
		rc = cb(ctx, fd.cFileName);
	} while (rc == 0 && FindNextFileA(h, &fd));
	FindClose(h);
	return rc;
}
