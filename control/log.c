/* pharos-control logging: one line per message to stderr or syslog. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

static int log_syslog;

void log_use_syslog(int on)
{
	if (on && !log_syslog)
		openlog("pharos-control", LOG_PID, LOG_DAEMON);
	log_syslog = on;
}

static const char *log_level_name(int level)
{
	switch (level) {
	case LOG_EMERG: case LOG_ALERT: case LOG_CRIT: case LOG_ERR:
		return "error: ";
	case LOG_WARNING:
		return "warning: ";
	default:
		return "";
	}
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (log_syslog) {
		vsyslog(level, fmt, ap);
	} else {
		fprintf(stderr, "pharos-control: %s", log_level_name(level));
		vfprintf(stderr, fmt, ap);
		fputc('\n', stderr);
		fflush(stderr);
	}
	va_end(ap);
}
