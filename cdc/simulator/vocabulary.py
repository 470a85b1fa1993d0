"""Words the simulator draws names, places and codes from."""

from __future__ import annotations

import random
import string
from datetime import datetime
from functools import cache

import pycountry

FIRST_NAMES = (
    "Jeremie",
    "Deron",
    "Jeanette",
    "Ana",
    "Magdalena",
    "Korey",
    "Raphael",
    "Oswaldo",
    "Brody",
    "Jazmyn",
    "Meda",
    "Imani",
    "Stan",
    "Rigoberto",
    "Tom",
    "Jett",
    "Irving",
    "Tomasa",
    "Pierre",
    "Flavio",
    "Ava",
    "Noor",
    "Kwame",
    "Siobhan",
    "Priya",
    "Mateo",
)
LAST_NAMES = (
    "Franey",
    "Herzog",
    "Rempel",
    "Glover",
    "Zieme",
    "Ondricka",
    "Ratke",
    "Bergnaum",
    "Langworth",
    "Ryan",
    "Cremin",
    "Schmidt",
    "Lehner",
    "Dare",
    "Bashirian",
    "Parisian",
    "Okafor",
    "Nowak",
    "Silva",
    "Khan",
    "Murphy",
    "Nakamura",
    "Jensen",
    "Moreau",
)
STREETS = (
    "Herzog Via",
    "Alexie Cliffs",
    "Sincere Fort",
    "Keebler Underpass",
    "Harvey Fork",
    "Imogene Field",
    "Mante Forge",
    "Kub Harbor",
    "Ferry Glens",
    "Norberto Gateway",
    "Roob Vista",
    "Hills Ranch",
    "Auer Locks",
    "Carroll Neck",
)
ADDRESS_LINE_2 = ("Suite 204", "Unit 3", "Floor 2", "Apt. 51", "Building C", "Rear entrance")
DISTRICTS = (
    "Avon",
    "Bedfordshire",
    "Buckinghamshire",
    "Cambridgeshire",
    "Cheshire",
    "Cornwall",
    "Cumbria",
    "Derbyshire",
    "Kent",
    "Surrey",
    "Yorkshire",
)
CITIES = (
    "New Patienceburgh",
    "Aliso Viejo",
    "Lake Charles",
    "Olsonside",
    "Fort Shadburgh",
    "Kendraburgh",
    "North Deshaun",
    "Suffolk",
    "East Bobbie",
    "Pricetown",
    "Manchester",
    "Leeds",
    "Bristol",
    "Glasgow",
    "Cardiff",
    "Lyon",
    "Porto",
    "Denver",
)
DEPARTMENTS = (
    ("Sales", "Manchester"),
    ("Purchasing", "Manchester"),
    ("Production", "Leeds"),
    ("Dispatch", "Leds"),
    ("Finance", "Manchester"),
    ("Facilities", "Manchester"),
    ("Communications", "Leeds"),
    ("HR", "Leeds"),
    ("Design", "Manchester"),
    ("Logistics", "Leeds"),
)
DESIGN_NAMES = (
    "Wooden",
    "Bronze",
    "Granite",
    "Soft",
    "Steel",
    "Concrete",
    "Rubber",
    "Frozen",
    "Fresh",
    "Cotton",
    "Plastic",
    "Metal",
    "Tasty",
    "Practical",
    "Ergonomic",
    "Handcrafted",
    "Recycled",
    "Awesome",
    "Refined",
    "Licensed",
)
FILE_LOCATIONS = (
    "/usr/share",
    "/usr/local/src",
    "/private",
    "/System",
    "/opt/include",
    "/usr/ports",
    "/home/user/dir",
    "/Network",
    "/lost+found",
    "/var/spool",
)
COMPANY_WORDS = (
    "Fahey",
    "Leannon",
    "Armstrong",
    "Kohler",
    "Frami",
    "Mraz",
    "Padberg",
    "Yost",
    "Moen",
    "Jacobson",
    "Bogan",
    "Hane",
    "Grant",
    "Kling",
    "Prohaska",
    "Wilderman",
)
COMPANY_SUFFIXES = ("and Sons", "Inc", "LLC", "Group", "Ltd", "- Pollich", "Partners")


@cache
def countries() -> tuple[str, ...]:
    """Country names from ISO 3166 (pycountry), in a stable order."""
    return tuple(sorted(c.name for c in pycountry.countries))


def person(rng: random.Random) -> str:
    return f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"


def company(rng: random.Random) -> str:
    return f"{rng.choice(COMPANY_WORDS)} {rng.choice(COMPANY_SUFFIXES)}"


def phone(rng: random.Random) -> str:
    return f"{rng.randint(1000, 9999)} {rng.randint(100000, 999999)}"


def item_code(rng: random.Random) -> str:
    return "".join(rng.choices(string.ascii_uppercase + string.digits, k=7))


def design_file_name(rng: random.Random, name: str, created: datetime) -> str:
    suffix = "".join(rng.choices(string.ascii_lowercase, k=4))
    return f"{name.lower()}-{created:%Y%m%d}-{suffix}.json"
