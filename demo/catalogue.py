"""Reference data of the demo case: the parties, their sites, the steel they trade.

Everything here is static and reads like the real thing: grades and standards as
the automotive and appliance trades order them, chemistry and mechanical values
typical of each grade, sites at their real coordinates.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain.quality.limits import Range, SpecLimits

D = Decimal

MILL = "BAOSTEEL"
FAW_VW = "FAW-VW"
GALANZ = "GALANZ"

# (code, name, kind)
ORGANIZATIONS: tuple[tuple[str, str, str], ...] = (
    (MILL, "Baoshan Iron & Steel", "mill"),
    (FAW_VW, "FAW-Volkswagen Automotive", "customer"),
    (GALANZ, "Guangdong Galanz Enterprises", "customer"),
    ("SINOTRANS", "Sinotrans Limited", "carrier"),
    ("COSCO-SHIPPING", "COSCO Shipping Logistics", "carrier"),
)


@dataclass(frozen=True)
class SiteDef:
    code: str
    name: str
    kind: str
    org: str | None
    latitude: float
    longitude: float
    # Half extent in metres of a rectangular fence (east-west, north-south); None = circle.
    box_m: tuple[float, float] | None = None
    radius_m: float | None = None

    def geofence(self) -> dict[str, Any] | None:
        if self.box_m is None:
            return None
        half_lon = self.box_m[0] / (111_320 * math.cos(math.radians(self.latitude)))
        half_lat = self.box_m[1] / 110_574
        w, e = round(self.longitude - half_lon, 6), round(self.longitude + half_lon, 6)
        s, n = round(self.latitude - half_lat, 6), round(self.latitude + half_lat, 6)
        # GeoJSON: [lon, lat], outer ring counter-clockwise and closed.
        return {"type": "Polygon", "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]}


SITES: tuple[SiteDef, ...] = (
    SiteDef("BAOSHAN", "Baosteel Baoshan works", "plant", MILL, 31.4050, 121.4750,
            box_m=(2400, 2200)),
    SiteDef("BAOSHAN-DOCK-3", "Baoshan finished-products dock no. 3", "port", None,
            31.4215, 121.5060, radius_m=350),
    SiteDef("LUOJING", "Luojing port, Shanghai", "port", None, 31.4560, 121.3880, radius_m=900),
    SiteDef("SH-YANGHANG", "Yanghang rail freight yard, Shanghai Baoshan", "rail_station", None,
            31.3610, 121.4130, radius_m=600),
    SiteDef("CHANGCHUN-RAIL", "Changchun rail freight station", "rail_station", None,
            43.8850, 125.3190, radius_m=700),
    SiteDef("FAWVW-CC-WH", "FAW-Volkswagen Changchun press-shop steel store", "customer_warehouse",
            FAW_VW, 43.8460, 125.1960, box_m=(450, 300)),
    SiteDef("FOSHAN-BEIJIAO", "Beijiao port, Foshan Shunde", "port", None, 22.9230, 113.2110,
            radius_m=500),
    SiteDef("GALANZ-SD-WH", "Galanz Shunde steel warehouse", "customer_warehouse", GALANZ,
            22.7880, 113.2800, box_m=(300, 250)),
)

# Where each customer takes delivery, how, and in how many days from the mill.
DELIVERY: dict[str, tuple[str, str, int]] = {
    FAW_VW: ("FAWVW-CC-WH", "rail", 7),
    GALANZ: ("GALANZ-SD-WH", "water", 10),
}
SALES_OWNER = {FAW_VW: "sales.zhang", GALANZ: "sales.liu"}


@dataclass(frozen=True)
class SpecDef:
    code: str
    grade: str
    standard: str
    product: str
    thickness_mm: Decimal
    width_mm: Decimal
    coating: str | None
    customer: str | None
    part_no: str | None
    nominal_t: Decimal
    # Melt family: which heats can feed it (see CHEMISTRY).
    family: str
    price: tuple[int, int]
    # Who orders it, with a relative frequency.
    buyers: tuple[tuple[str, int], ...]
    # Slit from a mother coil this many ways; 0 = sold at mill width.
    slit_ways: int = 0
    # Cut to sheet packs from a mother coil.
    sheets: bool = False
    coating_g_m2: int | None = None


def _spec(code: str, grade: str, standard: str, product: str, size: str, nominal: int,
          family: str, price: tuple[int, int], buyers: tuple[tuple[str, int], ...], *,
          coating: tuple[str, int] | None = None, customer: str | None = None,
          part_no: str | None = None, slit_ways: int = 0, sheets: bool = False) -> SpecDef:
    thickness, width = size.split("x")
    return SpecDef(
        code=code, grade=grade, standard=standard, product=product,
        thickness_mm=D(thickness), width_mm=D(width),
        coating=None if coating is None else coating[0], customer=customer, part_no=part_no,
        nominal_t=D(nominal), family=family, price=price, buyers=buyers, slit_ways=slit_ways,
        sheets=sheets, coating_g_m2=None if coating is None else coating[1],
    )


CR, GI = "cold_rolled", "galvanized"
SPECS: tuple[SpecDef, ...] = (
    # FAW-VW body-in-white parts: deep-drawing and high-strength cold-rolled sheet, GI outer panels.
    _spec("FAWVW-DC04-0.70x1450", "DC04", "EN 10130", CR, "0.70x1450", 22, "IF", (5300, 5700),
          ((FAW_VW, 5),), customer=FAW_VW, part_no="5Q0-809-605"),
    _spec("FAWVW-DC06-0.65x1600", "DC06", "EN 10130", CR, "0.65x1600", 24, "IF", (5900, 6300),
          ((FAW_VW, 3),), customer=FAW_VW, part_no="5Q0-821-105"),
    _spec("FAWVW-HC340LA-1.20x1250", "HC340LA", "EN 10268", CR, "1.20x1250", 20, "HSLA340",
          (5600, 6000), ((FAW_VW, 4),), customer=FAW_VW, part_no="5Q0-803-211"),
    _spec("FAWVW-HC420LA-1.50x1180", "HC420LA", "EN 10268", CR, "1.50x1180", 20, "HSLA420",
          (5800, 6200), ((FAW_VW, 3),), customer=FAW_VW, part_no="5Q0-802-093"),
    _spec("FAWVW-DP600-1.00x1350", "DP600", "EN 10338", CR, "1.00x1350", 20, "DP", (6700, 7300),
          ((FAW_VW, 3),), customer=FAW_VW, part_no="5Q0-809-837"),
    _spec("FAWVW-DX54D+Z-0.75x1500-Z100", "DX54D+Z", "EN 10346", GI, "0.75x1500", 22, "IF",
          (6100, 6600), ((FAW_VW, 4),), coating=("Z100", 100), customer=FAW_VW,
          part_no="5Q0-831-051"),
    _spec("FAWVW-HC340LA-1.50x410-SLIT", "HC340LA", "EN 10268", CR, "1.50x410", 8, "HSLA340",
          (5750, 6150), ((FAW_VW, 1),), customer=FAW_VW, part_no="5Q0-803-445", slit_ways=3),
    # Catalogue grades, sold to anyone.
    _spec("BS-DC04-0.80x1250", "DC04", "EN 10130", CR, "0.80x1250", 22, "IF", (5200, 5600),
          ((FAW_VW, 2),)),
    _spec("BS-DC01-1.00x1250", "DC01", "EN 10130", CR, "1.00x1250", 22, "LC", (4800, 5200),
          ((FAW_VW, 1),)),
    _spec("BS-DX51D+Z-0.60x1219-Z120", "DX51D+Z", "EN 10346", GI, "0.60x1219", 18, "LC",
          (4700, 5100), ((GALANZ, 2),), coating=("Z120", 120)),
    _spec("BS-DX52D+Z-0.80x1250-Z140", "DX52D+Z", "EN 10346", GI, "0.80x1250", 20, "IF",
          (5000, 5400), ((GALANZ, 2), (FAW_VW, 1)), coating=("Z140", 140)),
    # Galanz appliance casings and back panels: galvanized, some slit, some as sheets.
    _spec("GLZ-GI-0.5x1250", "DX51D+Z", "EN 10346", GI, "0.50x1250", 16, "LC", (4800, 5200),
          ((GALANZ, 5),), coating=("Z100", 100), customer=GALANZ, part_no="GLZ-GI-0.5x1250"),
    _spec("GLZ-GI-0.6x1000", "SGCC", "JIS G 3302", GI, "0.60x1000", 15, "LC", (4900, 5300),
          ((GALANZ, 4),), coating=("Z12", 120), customer=GALANZ, part_no="GLZ-GI-0.6x1000"),
    _spec("GLZ-GI-0.8x1219", "DX52D+Z", "EN 10346", GI, "0.80x1219", 18, "IF", (5100, 5500),
          ((GALANZ, 3),), coating=("Z120", 120), customer=GALANZ, part_no="GLZ-GI-0.8x1219"),
    _spec("GLZ-GI-0.5x410", "DX51D+Z", "EN 10346", GI, "0.50x410", 8, "LC", (4950, 5350),
          ((GALANZ, 1),), coating=("Z100", 100), customer=GALANZ, part_no="GLZ-GI-0.5x410",
          slit_ways=3),
    _spec("GLZ-GI-0.6x1000x2000", "SGCC", "JIS G 3302", GI, "0.60x1000", 4, "LC", (5050, 5450),
          ((GALANZ, 1),), coating=("Z12", 120), customer=GALANZ,
          part_no="GLZ-GI-0.6x1000x2000", sheets=True),
)

# Melt families: the heat's grade and the mass-percent range of each element, with the
# number of decimals the spectrometer report carries.
CHEMISTRY: dict[str, tuple[str, dict[str, tuple[str, str, int]]]] = {
    "IF": ("IF-Ti", {
        "C": ("0.0015", "0.0030", 4), "Si": ("0.005", "0.015", 3), "Mn": ("0.10", "0.18", 2),
        "P": ("0.008", "0.015", 3), "S": ("0.005", "0.010", 3), "Al": ("0.030", "0.050", 3),
        "Ti": ("0.055", "0.075", 3), "N": ("0.0015", "0.0030", 4),
    }),
    "LC": ("LC-Al", {
        "C": ("0.030", "0.055", 3), "Si": ("0.005", "0.020", 3), "Mn": ("0.15", "0.25", 2),
        "P": ("0.010", "0.018", 3), "S": ("0.006", "0.012", 3), "Al": ("0.030", "0.055", 3),
        "N": ("0.0025", "0.0045", 4),
    }),
    "HSLA340": ("HSLA-Nb340", {
        "C": ("0.060", "0.080", 3), "Si": ("0.020", "0.050", 3), "Mn": ("0.70", "0.90", 2),
        "P": ("0.010", "0.018", 3), "S": ("0.004", "0.008", 3), "Al": ("0.030", "0.050", 3),
        "Nb": ("0.015", "0.025", 3), "Ti": ("0.005", "0.015", 3), "N": ("0.0030", "0.0050", 4),
    }),
    "HSLA420": ("HSLA-Nb420", {
        "C": ("0.070", "0.090", 3), "Si": ("0.020", "0.100", 3), "Mn": ("1.00", "1.20", 2),
        "P": ("0.010", "0.018", 3), "S": ("0.003", "0.007", 3), "Al": ("0.030", "0.050", 3),
        "Nb": ("0.030", "0.045", 3), "Ti": ("0.010", "0.020", 3), "N": ("0.0030", "0.0050", 4),
    }),
    "DP": ("DP590", {
        "C": ("0.080", "0.100", 3), "Si": ("0.20", "0.35", 2), "Mn": ("1.55", "1.75", 2),
        "P": ("0.008", "0.015", 3), "S": ("0.002", "0.005", 3), "Al": ("0.030", "0.050", 3),
        "Cr": ("0.20", "0.35", 2), "N": ("0.0030", "0.0050", 4),
    }),
}

# Typical test results per grade: yield strength, tensile strength (MPa), elongation A80 (%).
MECHANICAL: dict[str, tuple[int, int, int]] = {
    "DC01": (215, 335, 36), "DC04": (160, 300, 42), "DC06": (140, 285, 45),
    "HC340LA": (385, 455, 27), "HC420LA": (465, 535, 22), "DP600": (390, 640, 22),
    "DX51D+Z": (290, 360, 30), "DX52D+Z": (210, 320, 36), "DX54D+Z": (165, 300, 40),
    "SGCC": (300, 370, 30),
}

# Hot band gauge rolled for a given cold-rolled gauge (cold reduction of about 75 %).
HOT_BAND_MM: tuple[tuple[Decimal, Decimal], ...] = (
    (D("0.60"), D("2.50")), (D("0.80"), D("3.00")), (D("1.00"), D("3.50")),
    (D("1.20"), D("4.00")), (D("9.99"), D("4.50")),
)


# The limits of each grade's standard: the cast analysis (mass %, maxima unless a range
# is given), yield and tensile strength (MPa), least elongation A80 (%). Only elements
# that the grade's melt family reports are bounded (see CHEMISTRY): a bound on an element
# the cast analysis does not carry could never be certified. Coating minima come from
# the spec's designation (triple-spot total of both sides: Z100 -> 100 g/m2).
def _max(**elements: str) -> dict[str, Range]:
    return {e: Range(None, D(v)) for e, v in elements.items()}


def _mech(re: tuple[int | None, int | None], rm: tuple[int | None, int | None],
          a80: int | None) -> tuple[Range, Range, Decimal | None]:
    def d(v: int | None) -> Decimal | None:
        return None if v is None else D(v)
    return Range(d(re[0]), d(re[1])), Range(d(rm[0]), d(rm[1])), d(a80)


_EN10346_DX52_54 = _max(C="0.12", Si="0.50", Mn="0.60", P="0.10", S="0.045", Ti="0.30")
# (standard, grade) -> (chemistry, (yield, tensile, elongation)).
LIMITS: dict[tuple[str, str], tuple[dict[str, Range], tuple[Range, Range, Decimal | None]]] = {
    # EN 10130: the lower yield bound is the one the standard gives for design purposes.
    ("EN 10130", "DC01"): (_max(C="0.12", P="0.045", S="0.045", Mn="0.60"),
                           _mech((140, 280), (270, 410), 28)),
    ("EN 10130", "DC04"): (_max(C="0.08", P="0.030", S="0.030", Mn="0.40"),
                           _mech((140, 210), (270, 350), 38)),
    ("EN 10130", "DC06"): (_max(C="0.02", P="0.020", S="0.020", Mn="0.25", Ti="0.30"),
                           _mech((120, 170), (270, 330), 41)),
    ("EN 10268", "HC340LA"): (
        {**_max(C="0.11", Si="0.50", Mn="1.00", P="0.025", S="0.025", Nb="0.09", Ti="0.15"),
         "Al": Range(D("0.015"), None)},
        _mech((340, 420), (410, 510), 21)),
    ("EN 10268", "HC420LA"): (
        {**_max(C="0.11", Si="0.50", Mn="1.40", P="0.025", S="0.025", Nb="0.09", Ti="0.15"),
         "Al": Range(D("0.015"), None)},
        _mech((420, 520), (470, 590), 17)),
    # DP600 is EN 10338's HCT590X; its Cr + Mo bound holds Cr alone (no Mo is added).
    ("EN 10338", "DP600"): (
        {**_max(C="0.15", Si="0.80", Mn="2.50", P="0.050", S="0.010", Cr="1.40"),
         "Al": Range(D("0.015"), D("1.50"))},
        _mech((330, 430), (590, None), 20)),
    # DX51D's Ti bound is left out: the LC melt is not titanium-treated and its report
    # carries no Ti.
    ("EN 10346", "DX51D+Z"): (_max(C="0.18", Si="0.50", Mn="1.20", P="0.12", S="0.045"),
                              _mech((None, None), (270, 500), 22)),
    ("EN 10346", "DX52D+Z"): (_EN10346_DX52_54, _mech((140, 300), (270, 420), 26)),
    ("EN 10346", "DX54D+Z"): (_EN10346_DX52_54, _mech((120, 220), (260, 350), 36)),
    # JIS G 3302 sets no tensile properties for the commercial quality SGCC.
    ("JIS G 3302", "SGCC"): (_max(C="0.15", Mn="0.80", P="0.05", S="0.05"),
                             _mech((None, None), (None, None), None)),
}


def spec_limits(d: SpecDef) -> SpecLimits:
    """The limits of ``d``'s standard at its thickness: thin gauges are allowed a lower
    elongation (2 points at 0.7 mm and below; EN 10130 and EN 10346 4 points at 0.5 mm
    and below) and, in EN 10130, a higher yield strength (20 and 40 MPa)."""
    chemistry, (yield_mpa, tensile, a80) = LIMITS[(d.standard, d.grade)]
    t = d.thickness_mm
    steps = 2 if t <= D("0.50") else 1 if t <= D("0.70") else 0
    if d.standard == "EN 10268":
        steps = min(steps, 1)
    if a80 is not None and d.standard.startswith("EN "):
        a80 -= 2 * steps
    if d.standard == "EN 10130" and yield_mpa.max is not None:
        yield_mpa = Range(yield_mpa.min, yield_mpa.max + 20 * steps)
    return SpecLimits(
        chemistry=chemistry, yield_strength_mpa=yield_mpa, tensile_strength_mpa=tensile,
        elongation_min_pct=a80,
        coating_mass_min_g_m2=None if d.coating_g_m2 is None else D(d.coating_g_m2),
    )
