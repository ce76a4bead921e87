/* pharos-control logging: stderr in the foreground, syslog once daemonized. */
#ifndef PHAROS_CTL_LOG_H
#define PHAROS_CTL_LOG_H

#include <syslog.h>

/* Send messages to syslog (1) or to stderr as "pharos-control: ..." (0, the default). */
void log_use_syslog(int on);

/* Log one message; level is a syslog level (LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO). */
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
