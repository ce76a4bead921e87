/* Start-up from the state directory: serve the newest valid image of each zone at once. */
#ifndef PHAROS_PERSIST_H
#define PHAROS_PERSIST_H

/*
 * Scan dir for files named *.img, open and verify each (a bad one is logged and skipped),
 * group them by the origin inside the image, keep per zone the greatest SOA serial (RFC 1982
 * serial arithmetic; equal or incomparable serials: the newest mtime) and publish them into
 * mgmt_snap as a LOAD would, logging one line per zone. Then the delta images (*.delta)
 * made for that image (img_delta_check) are looked at: the one with the greatest serial
 * is served over it, as a LOAD of it would. A zone whose marker
 * dir/<stem>.expired exists starts expired (SERVFAIL). Called at start-up, before any
 * reader thread runs. An unreadable dir is logged and serves nothing; never fatal.
 * Returns the number of zones served from disk.
 */
unsigned persist_load(const char *dir);

#endif
