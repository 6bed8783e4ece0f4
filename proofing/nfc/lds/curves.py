"""Elliptic-curve domain parameters of the curves eMRTDs use, and just enough arithmetic.

Chips often encode their keys with EXPLICIT domain parameters (prime, a, b, generator,
order, cofactor) instead of a curve OID, and ``cryptography`` refuses those. We map
explicit parameters back to the named curve when they match one below, and fall back to
the small affine arithmetic here (ECDSA verification and signing, scalar multiplication)
for curves it does not know. The constants were produced with
``openssl ecparam -name NAME -param_enc explicit`` (SEC 2 and RFC 5639 curves).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

Point = tuple[int, int] | None  # None is the point at infinity
_INF = (1, 1, 0)  # the point at infinity in Jacobian coordinates


@dataclass(frozen=True)
class EcCurve:
    """Short Weierstrass curve y^2 = x^3 + ax + b over GF(p) with base point (gx, gy) of order n."""

    name: str | None
    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int
    h: int = 1

    @property
    def field_bytes(self) -> int:
        return (self.p.bit_length() + 7) // 8

    @property
    def order_bytes(self) -> int:
        return (self.n.bit_length() + 7) // 8

    @property
    def generator(self) -> tuple[int, int]:
        return (self.gx, self.gy)

    def same_domain(self, other: EcCurve) -> bool:
        return (self.p, self.a % self.p, self.b % self.p, self.gx, self.gy, self.n) == (
            other.p,
            other.a % other.p,
            other.b % other.p,
            other.gx,
            other.gy,
            other.n,
        )

    def on_curve(self, pt: Point) -> bool:
        if pt is None:
            return True
        x, y = pt
        if not (0 <= x < self.p and 0 <= y < self.p):
            return False
        return (y * y - (x * x * x + self.a * x + self.b)) % self.p == 0

    def add(self, p1: Point, p2: Point) -> Point:
        if p1 is None:
            return p2
        if p2 is None:
            return p1
        p = self.p
        x1, y1 = p1
        x2, y2 = p2
        if x1 == x2:
            if (y1 + y2) % p == 0:
                return None
            lam = (3 * x1 * x1 + self.a) * pow(2 * y1, -1, p) % p
        else:
            lam = (y2 - y1) * pow(x2 - x1, -1, p) % p
        x3 = (lam * lam - x1 - x2) % p
        return (x3, (lam * (x1 - x3) - y1) % p)

    def mul(self, k: int, pt: Point) -> Point:
        """k * pt (Jacobian double-and-add; not constant time: verification and tests only)."""
        return self.mul_add(k, pt, 0, None)

    def mul_add(self, k1: int, p1: Point, k2: int, p2: Point) -> Point:
        """k1*p1 + k2*p2 in one pass (Shamir's trick), as ECDSA verification needs."""
        k1 %= self.n
        k2 %= self.n
        j1 = _INF if p1 is None else (p1[0], p1[1], 1)
        j2 = _INF if p2 is None else (p2[0], p2[1], 1)
        both = self._jadd(j1, j2)
        acc = _INF
        for i in range(max(k1.bit_length(), k2.bit_length()) - 1, -1, -1):
            acc = self._jdouble(acc)
            b1, b2 = (k1 >> i) & 1, (k2 >> i) & 1
            if b1 and b2:
                acc = self._jadd(acc, both)
            elif b1:
                acc = self._jadd(acc, j1)
            elif b2:
                acc = self._jadd(acc, j2)
        return self._affine(acc)

    def _affine(self, j: tuple[int, int, int]) -> Point:
        x, y, z = j
        if z == 0:
            return None
        p = self.p
        zi = pow(z, -1, p)
        zi2 = zi * zi % p
        return (x * zi2 % p, y * zi2 * zi % p)

    def _jdouble(self, j: tuple[int, int, int]) -> tuple[int, int, int]:
        x, y, z = j
        if z == 0 or y == 0:
            return _INF
        p = self.p
        yy = y * y % p
        s = 4 * x * yy % p
        zz = z * z % p
        m = (3 * x * x + self.a * zz * zz) % p
        x3 = (m * m - 2 * s) % p
        y3 = (m * (s - x3) - 8 * yy * yy) % p
        return (x3, y3, 2 * y * z % p)

    def _jadd(self, j1: tuple[int, int, int], j2: tuple[int, int, int]) -> tuple[int, int, int]:
        if j1[2] == 0:
            return j2
        if j2[2] == 0:
            return j1
        p = self.p
        x1, y1, z1 = j1
        x2, y2, z2 = j2
        z1z1, z2z2 = z1 * z1 % p, z2 * z2 % p
        u1, u2 = x1 * z2z2 % p, x2 * z1z1 % p
        s1, s2 = y1 * z2 * z2z2 % p, y2 * z1 * z1z1 % p
        if u1 == u2:
            return self._jdouble(j1) if s1 == s2 else _INF
        h = (u2 - u1) % p
        r = (s2 - s1) % p
        hh = h * h % p
        hhh = h * hh % p
        v = u1 * hh % p
        x3 = (r * r - hhh - 2 * v) % p
        y3 = (r * (v - x3) - s1 * hhh) % p
        return (x3, y3, h * z1 * z2 % p)

    def encode_point(self, pt: tuple[int, int]) -> bytes:
        size = self.field_bytes
        return b"\x04" + pt[0].to_bytes(size, "big") + pt[1].to_bytes(size, "big")

    def decode_point(self, data: bytes) -> tuple[int, int]:
        size = self.field_bytes
        if len(data) != 1 + 2 * size or data[0] != 0x04:
            raise ValueError("only uncompressed points of the curve's size are supported")
        pt = (int.from_bytes(data[1 : 1 + size], "big"), int.from_bytes(data[1 + size :], "big"))
        if not self.on_curve(pt):
            raise ValueError("point is not on the curve")
        return pt


def hash_to_int(digest: bytes, n: int) -> int:
    """The leftmost bits of the digest, as many as the order has (X9.62 / FIPS 186)."""
    e = int.from_bytes(digest, "big")
    excess = len(digest) * 8 - n.bit_length()
    return e >> excess if excess > 0 else e


def ecdsa_verify(curve: EcCurve, public: tuple[int, int], digest: bytes, r: int, s: int) -> bool:
    """Plain ECDSA verification over a precomputed digest."""
    n = curve.n
    if not (1 <= r < n and 1 <= s < n) or not curve.on_curve(public):
        return False
    w = pow(s, -1, n)
    e = hash_to_int(digest, n)
    pt = curve.mul_add(e * w % n, curve.generator, r * w % n, public)
    return pt is not None and pt[0] % n == r


def ecdsa_sign(curve: EcCurve, private: int, digest: bytes) -> tuple[int, int]:
    """ECDSA signing with a random nonce (for test chips on curves ``cryptography`` lacks)."""
    n = curve.n
    e = hash_to_int(digest, n)
    while True:
        k = secrets.randbelow(n - 1) + 1
        pt = curve.mul(k, curve.generator)
        assert pt is not None
        r = pt[0] % n
        s = pow(k, -1, n) * (e + r * private) % n
        if r and s:
            return r, s


def find_named(curve: EcCurve) -> EcCurve | None:
    """The named curve with exactly these domain parameters, if any."""
    for known in CURVES.values():
        if known.same_domain(curve):
            return known
    return None


#: BSI TR-03110 Part 3 standardized domain parameters (PACE parameterId).
STANDARD_DOMAIN_PARAMETERS: dict[int, str] = {
    0: "modp1024_160",
    1: "modp2048_224",
    2: "modp2048_256",
    8: "secp192r1",
    9: "brainpoolP192r1",
    10: "secp224r1",
    11: "brainpoolP224r1",
    12: "secp256r1",
    13: "brainpoolP256r1",
    14: "brainpoolP320r1",
    15: "secp384r1",
    16: "brainpoolP384r1",
    17: "brainpoolP512r1",
    18: "secp521r1",
}

CURVES: dict[str, EcCurve] = {
    "secp192r1": EcCurve(
        "secp192r1",
        p=0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFF,
        a=0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFC,
        b=0x64210519E59C80E70FA7E9AB72243049FEB8DEECC146B9B1,
        gx=0x188DA80EB03090F67CBF20EB43A18800F4FF0AFD82FF1012,
        gy=0x7192B95FFC8DA78631011ED6B24CDD573F977A11E794811,
        n=0xFFFFFFFFFFFFFFFFFFFFFFFF99DEF836146BC9B1B4D22831,
        h=1,
    ),
    "secp224r1": EcCurve(
        "secp224r1",
        p=0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF000000000000000000000001,
        a=0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFE,
        b=0xB4050A850C04B3ABF54132565044B0B7D7BFD8BA270B39432355FFB4,
        gx=0xB70E0CBD6BB4BF7F321390B94A03C1D356C21122343280D6115C1D21,
        gy=0xBD376388B5F723FB4C22DFE6CD4375A05A07476444D5819985007E34,
        n=0xFFFFFFFFFFFFFFFFFFFFFFFFFFFF16A2E0B8F03E13DD29455C5C2A3D,
        h=1,
    ),
    "secp256r1": EcCurve(
        "secp256r1",
        p=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
        a=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
        b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
        gx=0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
        gy=0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
        n=0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
        h=1,
    ),
    "secp384r1": EcCurve(
        "secp384r1",
        p=0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFF,
        a=0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFC,
        b=0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
        gx=0xAA87CA22BE8B05378EB1C71EF320AD746E1D3B628BA79B9859F741E082542A385502F25DBF55296C3A545E3872760AB7,
        gy=0x3617DE4A96262C6F5D9E98BF9292DC29F8F41DBD289A147CE9DA3113B5F0B8C00A60B1CE1D7E819D7A431D7C90EA0E5F,
        n=0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973,
        h=1,
    ),
    "secp521r1": EcCurve(
        "secp521r1",
        p=0x1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF,
        a=0x1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC,
        b=0x51953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF109E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00,
        gx=0xC6858E06B70404E9CD9E3ECB662395B4429C648139053FB521F828AF606B4D3DBAA14B5E77EFE75928FE1DC127A2FFA8DE3348B3C1856A429BF97E7E31C2E5BD66,
        gy=0x11839296A789A3BC0045C8A5FB42C7D1BD998F54449579B446817AFBD17273E662C97EE72995EF42640C550B9013FAD0761353C7086A272C24088BE94769FD16650,
        n=0x1FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409,
        h=1,
    ),
    "brainpoolP192r1": EcCurve(
        "brainpoolP192r1",
        p=0xC302F41D932A36CDA7A3463093D18DB78FCE476DE1A86297,
        a=0x6A91174076B1E0E19C39C031FE8685C1CAE040E5C69A28EF,
        b=0x469A28EF7C28CCA3DC721D044F4496BCCA7EF4146FBF25C9,
        gx=0xC0A0647EAAB6A48753B033C56CB0F0900A2F5C4853375FD6,
        gy=0x14B690866ABD5BB88B5F4828C1490002E6773FA2FA299B8F,
        n=0xC302F41D932A36CDA7A3462F9E9E916B5BE8F1029AC4ACC1,
        h=1,
    ),
    "brainpoolP224r1": EcCurve(
        "brainpoolP224r1",
        p=0xD7C134AA264366862A18302575D1D787B09F075797DA89F57EC8C0FF,
        a=0x68A5E62CA9CE6C1C299803A6C1530B514E182AD8B0042A59CAD29F43,
        b=0x2580F63CCFE44138870713B1A92369E33E2135D266DBB372386C400B,
        gx=0xD9029AD2C7E5CF4340823B2A87DC68C9E4CE3174C1E6EFDEE12C07D,
        gy=0x58AA56F772C0726F24C6B89E4ECDAC24354B9E99CAA3F6D3761402CD,
        n=0xD7C134AA264366862A18302575D0FB98D116BC4B6DDEBCA3A5A7939F,
        h=1,
    ),
    "brainpoolP256r1": EcCurve(
        "brainpoolP256r1",
        p=0xA9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377,
        a=0x7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9,
        b=0x26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6,
        gx=0x8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262,
        gy=0x547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997,
        n=0xA9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7,
        h=1,
    ),
    "brainpoolP320r1": EcCurve(
        "brainpoolP320r1",
        p=0xD35E472036BC4FB7E13C785ED201E065F98FCFA6F6F40DEF4F92B9EC7893EC28FCD412B1F1B32E27,
        a=0x3EE30B568FBAB0F883CCEBD46D3F3BB8A2A73513F5EB79DA66190EB085FFA9F492F375A97D860EB4,
        b=0x520883949DFDBC42D3AD198640688A6FE13F41349554B49ACC31DCCD884539816F5EB4AC8FB1F1A6,
        gx=0x43BD7E9AFB53D8B85289BCC48EE5BFE6F20137D10A087EB6E7871E2A10A599C710AF8D0D39E20611,
        gy=0x14FDD05545EC1CC8AB4093247F77275E0743FFED117182EAA9C77877AAAC6AC7D35245D1692E8EE1,
        n=0xD35E472036BC4FB7E13C785ED201E065F98FCFA5B68F12A32D482EC7EE8658E98691555B44C59311,
        h=1,
    ),
    "brainpoolP384r1": EcCurve(
        "brainpoolP384r1",
        p=0x8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B412B1DA197FB71123ACD3A729901D1A71874700133107EC53,
        a=0x7BC382C63D8C150C3C72080ACE05AFA0C2BEA28E4FB22787139165EFBA91F90F8AA5814A503AD4EB04A8C7DD22CE2826,
        b=0x4A8C7DD22CE28268B39B55416F0447C2FB77DE107DCD2A62E880EA53EEB62D57CB4390295DBC9943AB78696FA504C11,
        gx=0x1D1C64F068CF45FFA2A63A81B7C13F6B8847A3E77EF14FE3DB7FCAFE0CBD10E8E826E03436D646AAEF87B2E247D4AF1E,
        gy=0x8ABE1D7520F9C2A45CB1EB8E95CFD55262B70B29FEEC5864E19C054FF99129280E4646217791811142820341263C5315,
        n=0x8CB91E82A3386D280F5D6F7E50E641DF152F7109ED5456B31F166E6CAC0425A7CF3AB6AF6B7FC3103B883202E9046565,
        h=1,
    ),
    "brainpoolP512r1": EcCurve(
        "brainpoolP512r1",
        p=0xAADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA703308717D4D9B009BC66842AECDA12AE6A380E62881FF2F2D82C68528AA6056583A48F3,
        a=0x7830A3318B603B89E2327145AC234CC594CBDD8D3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CA,
        b=0x3DF91610A83441CAEA9863BC2DED5D5AA8253AA10A2EF1C98B9AC8B57F1117A72BF2C7B9E7C1AC4D77FC94CADC083E67984050B75EBAE5DD2809BD638016F723,
        gx=0x81AEE4BDD82ED9645A21322E9C4C6A9385ED9F70B5D916C1B43B62EEF4D0098EFF3B1F78E2D0D48D50D1687B93B97D5F7C6D5047406A5E688B352209BCB9F822,
        gy=0x7DDE385D566332ECC0EABFA9CF7822FDF209F70024A57B1AA000C55B881F8111B2DCDE494A5F485E5BCA4BD88A2763AED1CA2B2FA8F0540678CD1E0F3AD80892,
        n=0xAADD9DB8DBE9C48B3FD4E6AE33C9FC07CB308DB3B3C9D20ED6639CCA70330870553E5C414CA92619418661197FAC10471DB1D381085DDADDB58796829CA90069,
        h=1,
    ),
}
