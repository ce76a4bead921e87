/* Error codes shared by every Pharos process: 0 = ok, negative = one of these. */
#ifndef PHAROS_ERR_H
#define PHAROS_ERR_H

enum pharos_err {
	PHAROS_OK = 0,
	PHAROS_ENOMEM = -1,	/* out of memory */
	PHAROS_EINVAL = -2,	/* invalid argument */
	PHAROS_EIO = -3,	/* I/O error (errno says more) */
	PHAROS_ESYNTAX = -4,	/* syntax error in a zone or config file */
	PHAROS_EZONE = -5,	/* zone content refused (no SOA, out of zone...) */
	PHAROS_EMAGIC = -6,	/* image: bad magic */
	PHAROS_EVERSION = -7,	/* image: unsupported version */
	PHAROS_ESIZE = -8,	/* image: size or length mismatch */
	PHAROS_ECHECKSUM = -9,	/* image: checksum mismatch */
	PHAROS_ERANGE = -10,	/* image: offset or index out of bounds */
	PHAROS_ENOTFOUND = -11,	/* no such zone / name / entry */
	PHAROS_EEXIST = -12,	/* already exists */
	PHAROS_ESPACE = -13,	/* output buffer too small */
	PHAROS_EMALF = -14,	/* malformed message */
	PHAROS_EPROTO = -15,	/* IPC protocol violation */
	PHAROS_ECONFIG = -16,	/* bad configuration */
	PHAROS_ELIMIT = -17,	/* a configured or built-in limit was hit */
	PHAROS_ETIMEOUT = -18,	/* timed out */
	PHAROS_ERR_MIN_ = -19
};

/* Human-readable text for a pharos_err code (never NULL). */
static inline const char *pharos_strerror(int err)
{
	static const char *const txt[] = {
		"ok", "out of memory", "invalid argument", "I/O error",
		"syntax error", "zone refused", "bad image magic",
		"unsupported image version", "size mismatch",
		"checksum mismatch", "offset out of bounds", "not found",
		"already exists", "no space in buffer", "malformed message",
		"protocol violation", "bad configuration", "limit reached",
		"timed out",
	};
	if (err > 0 || err <= PHAROS_ERR_MIN_)
		return "unknown error";
	return txt[-err];
}

#endif
