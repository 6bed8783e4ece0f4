"""Group arithmetic for PACE and Chip Authentication: EC points in Jacobian coordinates and
the RFC 5114 MODP groups.

PACE generic mapping computes G' = s*G + H on a curve whose generator then is G', which no
library API offers, so the scalar multiplication is done here over the raw domain
parameters (not constant time: the nonce and keys are ephemeral, and the hot path of a
real deployment is the terminal, not a card). Curve parameters come from
:mod:`proofing.nfc.lds.curves` (BSI TR-03110 standardized domain parameters).
"""

from __future__ import annotations

from dataclasses import dataclass

from proofing.nfc.lds.curves import CURVES, STANDARD_DOMAIN_PARAMETERS, EcCurve

Point = tuple[int, int]


def _hex(*parts: str) -> int:
    return int("".join(parts), 16)


@dataclass(frozen=True)
class DhGroup:
    name: str
    p: int
    g: int
    q: int

    @property
    def size(self) -> int:
        return (self.p.bit_length() + 7) // 8

    def encode(self, y: int) -> bytes:
        return y.to_bytes(self.size, "big")

    def valid_public(self, y: int) -> bool:
        """1 < y < p-1 and, where the subgroup order q is known (q != 0), y^q = 1."""
        return 1 < y < self.p - 1 and (self.q == 0 or pow(y, self.q, self.p) == 1)


#: BSI TR-03110 Part 3 / ICAO 9303 Part 11 standardized DH domain parameters 0-2 (RFC 5114).
DH_GROUPS: dict[int, DhGroup] = {
    0: DhGroup(
        "1024-bit MODP group with 160-bit prime order subgroup (RFC 5114 2.1)",
        p=_hex(
        "B10B8F96A080E01DDE92DE5EAE5D54EC52C99FBCFB06A3C69A6A9DCA52D23B61"
        "6073E28675A23D189838EF1E2EE652C013ECB4AEA906112324975C3CD49B83BF"
        "ACCBDD7D90C4BD7098488E9C219A73724EFFD6FAE5644738FAA31A4FF55BCCC0"
        "A151AF5F0DC8B4BD45BF37DF365C1A65E68CFDA76D4DA708DF1FB2BC2E4A4371"
        ),
        g=_hex(
        "A4D1CBD5C3FD34126765A442EFB99905F8104DD258AC507FD6406CFF14266D31"
        "266FEA1E5C41564B777E690F5504F213160217B4B01B886A5E91547F9E2749F4"
        "D7FBD7D3B9A92EE1909D0D2263F80A76A6A24C087A091F531DBF0A0169B6A28A"
        "D662A4D18E73AFA32D779D5918D08BC8858F4DCEF97C2A24855E6EEB22B3B2E5"
        ),
        q=_hex(
        "F518AA8781A8DF278ABA4E7D64B7CB9D49462353"
        ),
    ),
    1: DhGroup(
        "2048-bit MODP group with 224-bit prime order subgroup (RFC 5114 2.2)",
        p=_hex(
        "AD107E1E9123A9D0D660FAA79559C51FA20D64E5683B9FD1B54B1597B61D0A75"
        "E6FA141DF95A56DBAF9A3C407BA1DF15EB3D688A309C180E1DE6B85A1274A0A6"
        "6D3F8152AD6AC2129037C9EDEFDA4DF8D91E8FEF55B7394B7AD5B7D0B6C12207"
        "C9F98D11ED34DBF6C6BA0B2C8BBC27BE6A00E0A0B9C49708B3BF8A3170918836"
        "81286130BC8985DB1602E714415D9330278273C7DE31EFDC7310F7121FD5A074"
        "15987D9ADC0A486DCDF93ACC44328387315D75E198C641A480CD86A1B9E587E8"
        "BE60E69CC928B2B9C52172E413042E9B23F10B0E16E79763C9B53DCF4BA80A29"
        "E3FB73C16B8E75B97EF363E2FFA31F71CF9DE5384E71B81C0AC4DFFE0C10E64F"
        ),
        g=_hex(
        "AC4032EF4F2D9AE39DF30B5C8FFDAC506CDEBE7B89998CAF74866A08CFE4FFE3"
        "A6824A4E10B9A6F0DD921F01A70C4AFAAB739D7700C29F52C57DB17C620A8652"
        "BE5E9001A8D66AD7C17669101999024AF4D027275AC1348BB8A762D0521BC98A"
        "E247150422EA1ED409939D54DA7460CDB5F6C6B250717CBEF180EB34118E98D1"
        "19529A45D6F834566E3025E316A330EFBB77A86F0C1AB15B051AE3D428C8F8AC"
        "B70A8137150B8EEB10E183EDD19963DDD9E263E4770589EF6AA21E7F5F2FF381"
        "B539CCE3409D13CD566AFBB48D6C019181E1BCFE94B30269EDFE72FE9B6AA4BD"
        "7B5A0F1C71CFFF4C19C418E1F6EC017981BC087F2A7065B384B890D3191F2BFA"
        ),
        q=_hex(
        "801C0D34C58D93FE997177101F80535A4738CEBCBF389A99B36371EB"
        ),
    ),
    2: DhGroup(
        "2048-bit MODP group with 256-bit prime order subgroup (RFC 5114 2.3)",
        p=_hex(
        "87A8E61DB4B6663CFFBBD19C651959998CEEF608660DD0F25D2CEED4435E3B00"
        "E00DF8F1D61957D4FAF7DF4561B2AA3016C3D91134096FAA3BF4296D830E9A7C"
        "209E0C6497517ABD5A8A9D306BCF67ED91F9E6725B4758C022E0B1EF4275BF7B"
        "6C5BFC11D45F9088B941F54EB1E59BB8BC39A0BF12307F5C4FDB70C581B23F76"
        "B63ACAE1CAA6B7902D52526735488A0EF13C6D9A51BFA4AB3AD8347796524D8E"
        "F6A167B5A41825D967E144E5140564251CCACB83E6B486F6B3CA3F7971506026"
        "C0B857F689962856DED4010ABD0BE621C3A3960A54E710C375F26375D7014103"
        "A4B54330C198AF126116D2276E11715F693877FAD7EF09CADB094AE91E1A1597"
        ),
        g=_hex(
        "3FB32C9B73134D0B2E77506660EDBD484CA7B18F21EF205407F4793A1A0BA125"
        "10DBC15077BE463FFF4FED4AAC0BB555BE3A6C1B0C6B47B1BC3773BF7E8C6F62"
        "901228F8C28CBB18A55AE31341000A650196F931C77A57F2DDF463E5E9EC144B"
        "777DE62AAAB8A8628AC376D282D6ED3864E67982428EBC831D14348F6F2F9193"
        "B5045AF2767164E1DFC967C1FB3F2E55A4BD1BFFE83B9C80D052B985D182EA0A"
        "DB2A3B7313D3FE14C8484B1E052588B9B7D2BBD2DF016199ECD06E1557CD0915"
        "B3353BBB64E0EC377FD028370DF92B52C7891428CDC67EB6184B523D1DB246C3"
        "2F63078490F00EF8D647D148D47954515E2327CFEF98C582664B4C0F6CC41659"
        ),
        q=_hex(
        "8CF83642A709A097B447997640129DA299B1A47D1EB3750BA308B0FE64F5FBD3"
        ),
    ),}


def domain(parameter_id: int) -> EcCurve | DhGroup:
    """The standardized domain parameters with this id (0-2 DH, 8-18 EC)."""
    if parameter_id in DH_GROUPS:
        return DH_GROUPS[parameter_id]
    name = STANDARD_DOMAIN_PARAMETERS.get(parameter_id)
    if name is None or name not in CURVES:
        raise ValueError(f"unknown standardized domain parameter id {parameter_id}")
    return CURVES[name]


_Jac = tuple[int, int, int]


def _double(c: EcCurve, pt: _Jac) -> _Jac:
    x, y, z = pt
    p = c.p
    if y == 0 or z == 0:
        return (1, 1, 0)
    yy = y * y % p
    s = 4 * x * yy % p
    zz = z * z % p
    m = (3 * x * x + c.a * zz * zz) % p
    x3 = (m * m - 2 * s) % p
    y3 = (m * (s - x3) - 8 * yy * yy) % p
    return (x3, y3, 2 * y * z % p)


def _add(c: EcCurve, p1: _Jac, p2: _Jac) -> _Jac:
    if p1[2] == 0:
        return p2
    if p2[2] == 0:
        return p1
    p = c.p
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    z1z1, z2z2 = z1 * z1 % p, z2 * z2 % p
    u1, u2 = x1 * z2z2 % p, x2 * z1z1 % p
    s1, s2 = y1 * z2 * z2z2 % p, y2 * z1 * z1z1 % p
    if u1 == u2:
        return _double(c, p1) if s1 == s2 else (1, 1, 0)
    h, r = (u2 - u1) % p, (s2 - s1) % p
    hh = h * h % p
    hhh = h * hh % p
    v = u1 * hh % p
    x3 = (r * r - hhh - 2 * v) % p
    y3 = (r * (v - x3) - s1 * hhh) % p
    return (x3, y3, h * z1 * z2 % p)


def _affine(c: EcCurve, pt: _Jac) -> Point | None:
    x, y, z = pt
    if z == 0:
        return None
    zi = pow(z, -1, c.p)
    zi2 = zi * zi % c.p
    return (x * zi2 % c.p, y * zi2 * zi % c.p)


def ec_mul(c: EcCurve, k: int, pt: Point) -> Point | None:
    """k * pt (None = the point at infinity)."""
    acc: _Jac = (1, 1, 0)
    base: _Jac = (pt[0], pt[1], 1)
    for bit in bin(k)[2:]:
        acc = _double(c, acc)
        if bit == "1":
            acc = _add(c, acc, base)
    return _affine(c, acc)


def ec_add(c: EcCurve, p1: Point | None, p2: Point | None) -> Point | None:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    return _affine(c, _add(c, (p1[0], p1[1], 1), (p2[0], p2[1], 1)))


def encode_point(c: EcCurve, pt: Point) -> bytes:
    size = c.field_bytes
    return b"\x04" + pt[0].to_bytes(size, "big") + pt[1].to_bytes(size, "big")


def decode_point(c: EcCurve, data: bytes) -> Point:
    """An uncompressed point, checked to lie on the curve (invalid-curve attacks)."""
    size = c.field_bytes
    if len(data) != 1 + 2 * size or data[0] != 0x04:
        raise ValueError("expected an uncompressed point of the curve's size")
    pt = (int.from_bytes(data[1 : 1 + size], "big"), int.from_bytes(data[1 + size :], "big"))
    if not c.on_curve(pt):
        raise ValueError("point is not on the curve")
    return pt
