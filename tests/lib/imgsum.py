"""The zone image's checksum for tests that patch images (doc/zone-image.md): CRC-32C of
bytes [32, end), stored little-endian at offset 24 of the header."""
import struct

_TABLE = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _TABLE.append(_c)


def crc32c(data):
    """CRC-32C (Castagnoli), as the image header's checksum."""
    c = 0xFFFFFFFF
    for x in data:
        c = _TABLE[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def reseal(b):
    """Make the checksum of image bytes b (a bytearray) right again, in place."""
    struct.pack_into("<I", b, 24, crc32c(bytes(b[32:])))
