/* Helpers every I/O backend shares: listen address parsing. */
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pharos/err.h"
#include "io.h"

/* Port text to 1..65535; 53 when absent. */
static int io_port_parse(const char *txt, unsigned *port)
{
	char *end;
	unsigned long v;

	if (txt == NULL) {
		*port = 53;
		return 0;
	}
	if (*txt < '0' || *txt > '9')
		return PHAROS_EINVAL;
	v = strtoul(txt, &end, 10);
	if (*end != '\0' || v == 0 || v > 65535)
		return PHAROS_EINVAL;
	*port = (unsigned)v;
	return 0;
}

/* Split txt into host and port text in buf; IPv6 must be bracketed when a port follows. */
static int io_addr_split(const char *txt, char *buf, size_t cap, const char **host,
			 const char **port)
{
	char *p;

	if (strlen(txt) >= cap)
		return PHAROS_EINVAL;
	strcpy(buf, txt);
	*port = NULL;
	if (buf[0] == '[') {
		p = strchr(buf, ']');
		if (p == NULL || (p[1] != '\0' && p[1] != ':'))
			return PHAROS_EINVAL;
		*p = '\0';
		*host = buf + 1;
		if (p[1] == ':')
			*port = p + 2;
		return 0;
	}
	p = strchr(buf, ':');
	if (p != NULL && strchr(p + 1, ':') != NULL)
		return PHAROS_EINVAL;		/* bare IPv6: needs [ ] */
	if (p != NULL) {
		*p = '\0';
		*port = p + 1;
	}
	*host = buf;
	return 0;
}

static int io_is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ((const struct sockaddr_in *)ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

int io_addr_parse(const char *txt, struct io_addr *out)
{
	char buf[IO_ADDR_TXT];
	const char *host, *port_txt;
	struct addrinfo hints, *res = NULL;
	unsigned port;

	if (io_addr_split(txt, buf, sizeof(buf), &host, &port_txt) < 0 || *host == '\0' ||
	    io_port_parse(port_txt, &port) < 0)
		return PHAROS_EINVAL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = txt[0] == '[' ? AF_INET6 : AF_INET;
	hints.ai_socktype = SOCK_DGRAM;
	hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
	if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL)
		return PHAROS_EINVAL;
	memset(out, 0, sizeof(*out));
	memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
	out->len = res->ai_addrlen;
	freeaddrinfo(res);
	if (out->ss.ss_family == AF_INET)
		((struct sockaddr_in *)&out->ss)->sin_port = htons((uint16_t)port);
	else
		((struct sockaddr_in6 *)&out->ss)->sin6_port = htons((uint16_t)port);
	out->wildcard = io_is_wildcard(&out->ss);
	snprintf(out->text, sizeof(out->text), "%s", txt);
	return 0;
}
