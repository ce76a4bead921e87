/* Dataplane log lines: one write per line to stderr, prefixed "pharos-dataplane: ". */
#ifndef PHAROS_LOG_H
#define PHAROS_LOG_H

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* printf-style; a newline is added. Formats into one buffer so threads never interleave. */
static inline void __attribute__((format(printf, 1, 2))) log_msg(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	size_t n;

	memcpy(line, "pharos-dataplane: ", sizeof("pharos-dataplane: "));
	n = strlen(line);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
	va_end(ap);
	n = strlen(line);
	line[n] = '\n';
	fwrite(line, 1, n + 1, stderr);
}

#endif
