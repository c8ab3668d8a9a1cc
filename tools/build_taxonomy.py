"""Build ``gallery/detection/taxonomy.json``: ImageNet-1k classes as labels people use.

An ImageNet classifier answers with 1000 narrow, oddly named classes ("tiger
cat", "Egyptian cat", "tabby"). People, and Amazon Rekognition, speak of "Cat"
with the parents "Pet", "Mammal" and "Animal". This script turns the class
list into such labels by walking WordNet 3.0 hypernyms (ImageNet's wnids are
WordNet 3.0 noun offsets) and keeping only the ancestor concepts listed in the
curated allow-map ``CATEGORIES`` below, under friendly display names. Every
other WordNet concept on the way up ("placental", "instrumentality", ...) is
skipped, so no WordNet jargon can reach a user.

Besides the classes' labels the file carries (format 2): the labels no
ImageNet class maps to but another on-box model emits (``EXTRA_LABELS``: the
COCO-80 detector's objects, the scene rules' scenes), the COCO class ->
label table (``COCO_LABELS``), and a ``sure`` threshold on obscure species
and breeds (``OBSCURE``), below which the app shows their parent instead.

It is run by hand when the curation changes, never at app run time; the
output is committed and read by ``gallery/detection/taxonomy.py``, which needs
neither WordNet nor this script.

Inputs:

* WordNet 3.0 from Debian's ``wordnet-base`` package (``apt-get install
  wordnet-base``; files under ``/usr/share/wordnet``). The database is read
  with the small parser below rather than nltk: nltk's reader wants a
  ``lexnames`` file that Debian does not ship, and nltk 3.10 refuses paths
  outside its own data directories and then looks for a downloaded WordNet.
  The parser was checked against nltk on all 1860 synsets at or above the
  1000 classes (same names, same hypernyms).
* The ImageNet-1k class list, one wnid a line in classifier index order (the
  sorted wnids ``n01440764`` ... ``n15075141``), e.g. ``imagenet_synsets.txt``
  from the ``timm`` wheel (``pip download --no-deps timm``; it sits under
  ``timm/data/_info/``).

Usage::

    python tools/build_taxonomy.py --classes /path/to/imagenet_synsets.txt
    python tools/build_taxonomy.py --classes ... --show   # print class -> labels
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = REPO / "gallery" / "detection" / "taxonomy.json"
DEFAULT_WORDNET = Path("/usr/share/wordnet")
FORMAT = 2
SOURCE = "WordNet 3.0 hypernyms over the ImageNet-1k classes, curated by tools/build_taxonomy.py"

# WordNet's upper ontology and the zoologist's and botanist's vocabulary: no
# label or parent may carry one of these names. The allow-map below never maps
# to them, and the build fails if a leaf name would. The same list is in
# tests/detection/test_taxonomy.py.
JARGON = frozenset(
    {
        "entity",
        "physical entity",
        "abstraction",
        "abstract entity",
        "object",
        "physical object",
        "whole",
        "unit",
        "matter",
        "substance",
        "solid",
        "artifact",
        "artefact",
        "instrumentality",
        "instrumentation",
        "instrument",
        "device",
        "equipment",
        "implement",
        "container",
        "covering",
        "protective covering",
        "structure",
        "construction",
        "conveyance",
        "commodity",
        "consumer goods",
        "durables",
        "durable goods",
        "article",
        "ware",
        "furnishing",
        "mechanism",
        "mechanical device",
        "apparatus",
        "system",
        "restraint",
        "nutriment",
        "foodstuff",
        "food product",
        "causal agent",
        "natural object",
        "plant part",
        "plant organ",
        "reproductive structure",
        "organism",
        "being",
        "living thing",
        "animate thing",
        "chordate",
        "vertebrate",
        "craniate",
        "placental",
        "placental mammal",
        "eutherian",
        "eutherian mammal",
        "metatherian",
        "prototherian",
        "monotreme",
        "carnivore",
        "fissiped",
        "canid",
        "felid",
        "ungulate",
        "even-toed ungulate",
        "odd-toed ungulate",
        "artiodactyl",
        "perissodactyl",
        "ruminant",
        "bovid",
        "equid",
        "leporid",
        "lagomorph",
        "procyonid",
        "musteline mammal",
        "viverrine",
        "edentate",
        "pachyderm",
        "proboscidean",
        "cetacean",
        "pinniped",
        "diapsid",
        "anapsid",
        "saurian",
        "chelonian",
        "passerine",
        "oscine",
        "gallinaceous bird",
        "teleost fish",
        "bony fish",
        "soft-finned fish",
        "spiny-finned fish",
        "elasmobranch",
        "cartilaginous fish",
        "arthropod",
        "coelenterate",
        "cnidarian",
        "anthozoan",
        "echinoderm",
        "gastropod",
        "cephalopod",
        "decapod",
        "decapod crustacean",
        "acarine",
        "lepidopterous insect",
        "hymenopterous insect",
        "dipterous insect",
        "orthopterous insect",
        "homopterous insect",
        "odonate",
        "basidiomycete",
        "spermatophyte",
        "angiosperm",
        "gymnosperm",
        "vascular plant",
        "tracheophyte",
        "seed plant",
        "flowering plant",
        "wheeled vehicle",
        "self-propelled vehicle",
        "craft",
        "heavier-than-air craft",
        "lighter-than-air craft",
    }
)

# The allow-map: WordNet synset -> display name. Only these concepts become
# labels or parents. Several synsets may share a display name (WordNet splits
# "food" in two, for instance); such a label's parents are the union.
CATEGORIES: dict[str, str] = {
    # Animals
    "animal.n.01": "Animal",
    "domestic_animal.n.01": "Pet",
    "invertebrate.n.01": "Invertebrate",
    "aquatic_vertebrate.n.01": "Sea Life",
    "aquatic_mammal.n.01": "Sea Life",
    "coelenterate.n.01": "Sea Life",
    "echinoderm.n.01": "Sea Life",
    "mammal.n.01": "Mammal",
    "dog.n.01": "Dog",
    "canine.n.02": "Canine",
    "terrier.n.01": "Terrier",
    "retriever.n.01": "Retriever",
    "spaniel.n.01": "Spaniel",
    "hound.n.01": "Hound",
    "setter.n.02": "Setter",
    "pointer.n.04": "Pointer",
    "poodle.n.01": "Poodle",
    "schnauzer.n.01": "Schnauzer",
    "corgi.n.01": "Corgi",
    "mastiff.n.01": "Mastiff",
    "bulldog.n.01": "Bulldog",
    "spitz.n.01": "Spitz",
    "pinscher.n.01": "Pinscher",
    "sled_dog.n.01": "Sled Dog",
    "shepherd_dog.n.01": "Sheepdog",
    "sennenhunde.n.01": "Mountain Dog",
    "wolf.n.01": "Wolf",
    "fox.n.01": "Fox",
    "domestic_cat.n.01": "Cat",
    "wildcat.n.03": "Wild Cat",
    "big_cat.n.01": "Big Cat",
    "bear.n.01": "Bear",
    "primate.n.02": "Primate",
    "monkey.n.01": "Monkey",
    "ape.n.01": "Ape",
    "lemur.n.01": "Lemur",
    "rodent.n.01": "Rodent",
    "squirrel.n.01": "Squirrel",
    "rabbit.n.01": "Rabbit",
    "horse.n.01": "Horse",
    "swine.n.01": "Pig",
    "cattle.n.01": "Cattle",
    "sheep.n.01": "Sheep",
    "goat.n.01": "Goat",
    "antelope.n.01": "Antelope",
    "camel.n.01": "Camel",
    "elephant.n.01": "Elephant",
    "whale.n.02": "Whale",
    "seal.n.09": "Seal",
    "marsupial.n.01": "Marsupial",
    "bird.n.01": "Bird",
    "oscine.n.01": "Songbird",
    "finch.n.01": "Finch",
    "bird_of_prey.n.01": "Bird of Prey",
    "eagle.n.01": "Eagle",
    "hawk.n.01": "Hawk",
    "owl.n.01": "Owl",
    "parrot.n.01": "Parrot",
    "duck.n.01": "Duck",
    "swan.n.01": "Swan",
    "penguin.n.01": "Penguin",
    "heron.n.02": "Heron",
    "stork.n.01": "Stork",
    "grouse.n.02": "Grouse",
    "domestic_fowl.n.01": "Poultry",
    "chicken.n.02": "Chicken",
    "fish.n.01": "Fish",
    "shark.n.01": "Shark",
    "ray.n.07": "Ray",
    "reptile.n.01": "Reptile",
    "snake.n.01": "Snake",
    "rattlesnake.n.01": "Rattlesnake",
    "lizard.n.01": "Lizard",
    "turtle.n.02": "Turtle",
    "sea_turtle.n.01": "Sea Turtle",
    "dinosaur.n.01": "Dinosaur",
    "amphibian.n.03": "Amphibian",
    "frog.n.01": "Frog",
    "salamander.n.01": "Salamander",
    "insect.n.01": "Insect",
    "beetle.n.01": "Beetle",
    "butterfly.n.01": "Butterfly",
    "spider.n.01": "Spider",
    "crustacean.n.01": "Crustacean",
    "crab.n.01": "Crab",
    "lobster.n.02": "Lobster",
    "mollusk.n.01": "Mollusk",
    "worm.n.01": "Worm",
    "coral.n.04": "Coral",
    # People
    "person.n.01": "Person",
    "athlete.n.01": "Athlete",
    # Plants and fungi
    "plant.n.02": "Plant",
    "plant_part.n.01": "Plant",
    "flower.n.01": "Flower",
    "orchid.n.01": "Orchid",
    "fungus.n.01": "Fungus",
    # Food and drink
    "food.n.02": "Food",
    "nutriment.n.01": "Food",
    "foodstuff.n.02": "Food",
    "dish.n.02": "Dish",
    "produce.n.01": "Produce",
    "edible_fruit.n.01": "Fruit",
    "citrus.n.01": "Citrus Fruit",
    "apple.n.01": "Apple",
    "vegetable.n.01": "Vegetable",
    "squash.n.02": "Squash",
    "pumpkin.n.02": "Pumpkin",
    "cabbage.n.01": "Cabbage",
    "sweet_pepper.n.02": "Pepper",
    "potato.n.01": "Potato",
    "mushroom.n.05": "Mushroom",
    "bread.n.01": "Bread",
    "sandwich.n.01": "Sandwich",
    "hamburger.n.01": "Burger",
    "dessert.n.01": "Dessert",
    "sauce.n.01": "Sauce",
    "soup.n.01": "Soup",
    "stew.n.02": "Stew",
    "beverage.n.01": "Beverage",
    "coffee.n.01": "Coffee",
    "alcohol.n.01": "Alcohol",
    "wine.n.01": "Wine",
    # Vehicles
    "conveyance.n.03": "Transportation",
    "vehicle.n.01": "Vehicle",
    "car.n.01": "Car",
    "truck.n.01": "Truck",
    "van.n.05": "Van",
    "bus.n.01": "Bus",
    "motorcycle.n.01": "Motorcycle",
    "bicycle.n.01": "Bicycle",
    "train.n.01": "Train",
    "car.n.02": "Railroad Car",
    "locomotive.n.01": "Locomotive",
    "military_vehicle.n.01": "Military Vehicle",
    "sled.n.01": "Sled",
    "handcart.n.01": "Cart",
    "vessel.n.02": "Watercraft",
    "boat.n.01": "Boat",
    "ship.n.01": "Ship",
    "warship.n.01": "Warship",
    "sailboat.n.01": "Sailboat",
    "sailing_vessel.n.01": "Sailboat",
    "aircraft.n.01": "Aircraft",
    "airplane.n.01": "Airplane",
    "spacecraft.n.01": "Spacecraft",
    # Buildings and places
    "building.n.01": "Building",
    "house.n.01": "House",
    "shop.n.01": "Shop",
    "theater.n.01": "Theater",
    "tower.n.01": "Tower",
    "tent.n.01": "Tent",
    "bridge.n.01": "Bridge",
    "memorial.n.03": "Monument",
    "fence.n.01": "Fence",
    "door.n.01": "Door",
    "roof.n.01": "Roof",
    "geological_formation.n.01": "Nature",
    "mountain.n.01": "Mountain",
    "shore.n.01": "Shoreline",
    # Furniture and household
    "furniture.n.01": "Furniture",
    "chair.n.01": "Chair",
    "sofa.n.01": "Couch",
    "bench.n.01": "Bench",
    "table.n.02": "Table",
    "table.n.03": "Table",
    "bed.n.01": "Bed",
    "cabinet.n.01": "Cabinet",
    "lamp.n.01": "Lamp",
    "lamp.n.02": "Lamp",
    "curtain.n.01": "Curtain",
    "rug.n.01": "Rug",
    "mat.n.01": "Mat",
    "cushion.n.03": "Cushion",
    "bedclothes.n.01": "Bedding",
    "towel.n.01": "Towel",
    "clock.n.01": "Clock",
    "watch.n.01": "Watch",
    "mirror.n.01": "Mirror",
    "home_appliance.n.01": "Appliance",
    "kitchen_appliance.n.01": "Kitchen Appliance",
    "heater.n.01": "Heater",
    "kitchen_utensil.n.01": "Kitchen Utensil",
    "cooking_utensil.n.01": "Cookware",
    "pot.n.01": "Pot",
    "pan.n.01": "Pan",
    "tableware.n.01": "Tableware",
    "cutlery.n.02": "Cutlery",
    "spoon.n.01": "Spoon",
    "bowl.n.03": "Bowl",
    "cup.n.01": "Cup",
    "mug.n.04": "Cup",
    "glass.n.02": "Glass",
    "bottle.n.01": "Bottle",
    "jug.n.01": "Jug",
    "box.n.01": "Box",
    "bag.n.01": "Bag",
    "basket.n.01": "Basket",
    "toiletry.n.01": "Toiletries",
    "cosmetic.n.01": "Cosmetics",
    "fabric.n.01": "Fabric",
    "decoration.n.01": "Decoration",
    "jewelry.n.01": "Jewelry",
    "plaything.n.01": "Toy",
    "puzzle.n.02": "Puzzle",
    "game.n.09": "Game",
    "sign.n.02": "Sign",
    "book.n.02": "Book",
    "halloween.n.01": "Halloween",
    # Clothing
    "clothing.n.01": "Clothing",
    "footwear.n.01": "Footwear",
    "footwear.n.02": "Footwear",
    "shoe.n.01": "Shoe",
    "boot.n.01": "Boot",
    "headdress.n.01": "Headwear",
    "hat.n.01": "Hat",
    "cap.n.01": "Cap",
    "helmet.n.01": "Helmet",
    "helmet.n.02": "Helmet",
    "coat.n.01": "Coat",
    "dress.n.01": "Dress",
    "skirt.n.02": "Skirt",
    "swimsuit.n.01": "Swimwear",
    "sweater.n.01": "Sweater",
    "shirt.n.01": "Shirt",
    "trouser.n.01": "Pants",
    "robe.n.01": "Robe",
    "scarf.n.01": "Scarf",
    "necktie.n.01": "Tie",
    "glove.n.02": "Glove",
    "uniform.n.01": "Uniform",
    "mask.n.04": "Mask",
    "spectacles.n.01": "Glasses",
    "armor.n.01": "Armor",
    # Tools, machines, electronics
    "tool.n.01": "Tool",
    "power_tool.n.01": "Power Tool",
    "knife.n.01": "Knife",
    "pen.n.01": "Pen",
    "lock.n.01": "Lock",
    "wheel.n.01": "Wheel",
    "farm_machine.n.01": "Farm Machinery",
    "medical_instrument.n.01": "Medical Equipment",
    "electronic_equipment.n.01": "Electronics",
    "electronic_device.n.01": "Electronics",
    "computer.n.01": "Computer",
    "telephone.n.01": "Phone",
    "camera.n.01": "Camera",
    "weapon.n.01": "Weapon",
    "gun.n.01": "Gun",
    # Music and sport
    "musical_instrument.n.01": "Musical Instrument",
    "guitar.n.01": "Guitar",
    "piano.n.01": "Piano",
    "sports_equipment.n.01": "Sports Equipment",
    "ball.n.01": "Ball",
}

# Hypernyms WordNet lacks or gets wrong for a picture: added to a synset's own.
EXTRA_HYPERNYMS: dict[str, tuple[str, ...]] = {
    "giant_panda.n.01": ("bear.n.01",),
    "hermit_crab.n.01": ("crab.n.01",),
    "bighorn.n.02": ("sheep.n.01",),
    "hamster.n.01": ("domestic_animal.n.01",),
    "guinea_pig.n.02": ("domestic_animal.n.01",),
    "goldfish.n.01": ("domestic_animal.n.01",),
    "motor_scooter.n.01": ("motorcycle.n.01",),
    "car.n.02": ("train.n.01",),
    "locomotive.n.01": ("train.n.01",),
    "train.n.01": ("vehicle.n.01",),
    "bus.n.01": ("vehicle.n.01",),
    "warplane.n.01": ("airplane.n.01",),
    "yawl.n.01": ("sailboat.n.01",),
    "castle.n.02": ("building.n.01",),
    "prison.n.01": ("building.n.01",),
    "lumbermill.n.01": ("building.n.01",),
    "cliff_dwelling.n.01": ("building.n.01",),
    "house.n.01": ("building.n.01",),
    "shop.n.01": ("building.n.01",),
    "grocery_store.n.01": ("shop.n.01",),
    "yurt.n.01": ("tent.n.01",),
    "water_tower.n.01": ("tower.n.01",),
    "tower.n.01": ("building.n.01",),
    "obelisk.n.01": ("memorial.n.03",),
    "table_lamp.n.01": ("furniture.n.01",),
    "rapeseed.n.01": ("flower.n.01",),
    "computer.n.01": ("electronic_equipment.n.01",),
    "camera.n.01": ("electronic_equipment.n.01",),
    "television.n.02": ("electronic_equipment.n.01",),
    "radio.n.03": ("electronic_equipment.n.01",),
    "loudspeaker.n.01": ("electronic_equipment.n.01",),
    "microphone.n.01": ("electronic_equipment.n.01",),
    "remote_control.n.01": ("electronic_equipment.n.01",),
    "hard_disc.n.01": ("electronic_equipment.n.01",),
    "photocopier.n.01": ("electronic_equipment.n.01",),
    "projector.n.02": ("electronic_equipment.n.01",),
    "hand_blower.n.01": ("home_appliance.n.01",),
    "electric_fan.n.01": ("home_appliance.n.01",),
    "space_heater.n.01": ("home_appliance.n.01",),
    "stove.n.02": ("kitchen_appliance.n.01",),
    "ladle.n.01": ("kitchen_utensil.n.01",),
    "strainer.n.01": ("kitchen_utensil.n.01",),
    "measuring_cup.n.01": ("kitchen_utensil.n.01",),
    "ball.n.01": ("sports_equipment.n.01",),
    "racket.n.04": ("sports_equipment.n.01",),
    "ski.n.01": ("sports_equipment.n.01",),
    "puck.n.02": ("sports_equipment.n.01",),
    "carpenter's_kit.n.01": ("tool.n.01",),
    "crutch.n.01": ("medical_instrument.n.01",),
    "neck_brace.n.01": ("medical_instrument.n.01",),
    "oxygen_mask.n.01": ("mask.n.04", "medical_instrument.n.01"),
    "swing.n.02": ("plaything.n.01",),
    "corn.n.02": ("vegetable.n.01",),
    "bolete.n.01": ("mushroom.n.05",),
    "agaric.n.02": ("mushroom.n.05",),
    "book_jacket.n.01": ("book.n.02",),
}

# Hypernyms that mislead for a picture: replace a synset's own entirely.
# An empty tuple leaves the class with its own label only.
REPLACED_HYPERNYMS: dict[str, tuple[str, ...]] = {
    # ImageNet's "cup" is a punch served in a pitcher in WordNet; its images
    # are cups of tea and coffee.
    "cup.n.06": ("cup.n.01",),
    # ImageNet's "plate" is a main course; "menu" is a fare.
    "plate.n.08": ("dish.n.02",),
    "menu.n.02": (),
    "meat_loaf.n.01": ("dish.n.02",),
    "carbonara.n.01": ("dish.n.02",),
    "palace.n.04": ("building.n.01",),
    "monastery.n.01": ("building.n.01",),
    "home_theater.n.01": ("electronic_equipment.n.01",),
    "bell_cote.n.01": ("tower.n.01",),
    "pier.n.03": (),
    "dutch_oven.n.01": ("pot.n.01",),
    "sunglass.n.01": ("spectacles.n.01",),
    "maillot.n.02": ("swimsuit.n.01",),
    "jack-o'-lantern.n.02": ("pumpkin.n.02", "halloween.n.01"),
    "bib.n.01": ("clothing.n.01",),
    "slide_rule.n.01": (),
    "apiary.n.01": (),
    # WordNet 3.0 files the hyena under the dogs; it is not one.
    "hyena.n.01": ("mammal.n.01",),
    "cloak.n.01": ("clothing.n.01",),
    "christmas_stocking.n.01": ("decoration.n.01",),
    "seat_belt.n.01": (),
    "petri_dish.n.01": (),
    "candle.n.01": (),
    "traffic_light.n.01": (),
    "web_site.n.01": (),
    "space_bar.n.01": (),
    "comic_book.n.01": ("book.n.02",),
    "cassette.n.01": (),
    "spider_web.n.01": (),
    "pinwheel.n.02": ("plaything.n.01",),
    "punching_bag.n.02": ("sports_equipment.n.01",),
    "handcart.n.01": (),
    "stretcher.n.03": ("medical_instrument.n.01",),
    "toilet_tissue.n.01": (),
    "wing.n.02": ("airplane.n.01",),
    "projectile.n.01": ("weapon.n.01",),
    "ear.n.05": ("corn.n.02",),
    "sorrel.n.05": ("horse.n.01",),
    "cock.n.05": ("chicken.n.02",),
    "hen.n.02": ("chicken.n.02",),
    "tusker.n.01": ("elephant.n.01",),
    "mask.n.01": ("mask.n.04",),
}

# The class's own label. Absent: its first WordNet name in Title Case.
# ``None``: no own label, the class counts only towards its categories
# (ImageNet's cat classes are coat patterns or mislabelled breeds).
LEAF_NAMES: dict[str, str | None] = {
    # fish
    "hammerhead.n.03": "Hammerhead Shark",
    "rock_beauty.n.01": "Angelfish",
    "anemone_fish.n.01": "Clownfish",
    "puffer.n.02": "Pufferfish",
    "coho.n.02": "Coho Salmon",
    # birds
    "cock.n.05": "Rooster",
    "robin.n.02": "Robin",
    # ImageNet's "kite" is the bird of prey; its own name would tag a beach
    # full of toy kites as birds, and the toy "Kite" (from the object
    # detector) would read as a bird. It counts towards Hawk only.
    "kite.n.04": None,
    "water_ouzel.n.01": "Dipper",
    "great_grey_owl.n.01": "Great Gray Owl",
    "peacock.n.02": "Peacock",
    "african_grey.n.01": "African Grey Parrot",
    "sulphur-crested_cockatoo.n.01": "Cockatoo",
    "drake.n.02": "Duck",
    "red-breasted_merganser.n.01": "Merganser",
    "american_egret.n.01": "Egret",
    "crane.n.05": "Crane Bird",
    "european_gallinule.n.01": "Gallinule",
    "american_coot.n.01": "Coot",
    "red-backed_sandpiper.n.01": "Dunlin",
    "king_penguin.n.01": "King Penguin",
    # amphibians and reptiles
    "european_fire_salamander.n.01": "Fire Salamander",
    "common_newt.n.01": "Newt",
    "eft.n.01": "Newt",
    "loggerhead.n.02": "Loggerhead Turtle",
    "banded_gecko.n.01": "Gecko",
    "common_iguana.n.01": "Iguana",
    "american_chameleon.n.01": "Anole",
    "whiptail.n.01": "Whiptail Lizard",
    "african_chameleon.n.01": "Chameleon",
    "african_crocodile.n.01": "Crocodile",
    "american_alligator.n.01": "Alligator",
    "thunder_snake.n.01": "Worm Snake",
    "green_snake.n.02": "Green Snake",
    "diamondback.n.01": "Diamondback Rattlesnake",
    # invertebrates
    "harvestman.n.01": "Daddy Longlegs",
    "black_and_gold_garden_spider.n.01": "Yellow Garden Spider",
    "garden_spider.n.01": "European Garden Spider",
    "tarantula.n.02": "Tarantula",
    "jellyfish.n.02": "Jellyfish",
    "nematode.n.01": "Roundworm",
    "slug.n.07": "Slug",
    "chambered_nautilus.n.01": "Nautilus",
    "dungeness_crab.n.02": "Dungeness Crab",
    "king_crab.n.03": "King Crab",
    "american_lobster.n.02": "Lobster",
    "spiny_lobster.n.02": "Spiny Lobster",
    "crayfish.n.03": "Crayfish",
    "scorpion.n.03": "Scorpion",
    "tick.n.02": "Tick",
    "long-horned_beetle.n.01": "Longhorn Beetle",
    "fly.n.01": "Fly",
    "walking_stick.n.02": "Stick Insect",
    "mantis.n.01": "Praying Mantis",
    "admiral.n.02": "Admiral Butterfly",
    "ringlet.n.04": "Ringlet Butterfly",
    "monarch.n.02": "Monarch Butterfly",
    "lycaenid.n.01": None,
    "starfish.n.01": "Starfish",
    # dogs
    "chihuahua.n.03": "Chihuahua",
    "japanese_spaniel.n.01": "Japanese Chin",
    "maltese_dog.n.01": "Maltese",
    "pekinese.n.01": "Pekingese",
    "shih-tzu.n.01": "Shih Tzu",
    "blenheim_spaniel.n.01": "King Charles Spaniel",
    "basset.n.01": "Basset Hound",
    "bluetick.n.01": "Bluetick Coonhound",
    "black-and-tan_coonhound.n.01": "Black and Tan Coonhound",
    "walker_hound.n.01": "Treeing Walker Coonhound",
    "redbone.n.01": "Redbone Coonhound",
    "staffordshire_bullterrier.n.01": "Staffordshire Bull Terrier",
    "wire-haired_fox_terrier.n.01": "Wire Fox Terrier",
    "airedale.n.01": "Airedale Terrier",
    "cairn.n.02": "Cairn Terrier",
    "dandie_dinmont.n.01": "Dandie Dinmont Terrier",
    "boston_bull.n.01": "Boston Terrier",
    "scotch_terrier.n.01": "Scottish Terrier",
    "lhasa.n.02": "Lhasa Apso",
    "brittany_spaniel.n.01": "Brittany",
    "clumber.n.01": "Clumber Spaniel",
    "english_springer.n.01": "English Springer Spaniel",
    "malinois.n.01": "Belgian Malinois",
    "kelpie.n.02": "Australian Kelpie",
    "doberman.n.01": "Doberman",
    "appenzeller.n.01": "Appenzeller Sennenhund",
    "entlebucher.n.01": "Entlebucher Mountain Dog",
    "boxer.n.04": "Boxer",
    "bull_mastiff.n.01": "Bullmastiff",
    "malamute.n.01": "Alaskan Malamute",
    "dalmatian.n.02": "Dalmatian",
    "leonberg.n.01": "Leonberger",
    "newfoundland.n.01": "Newfoundland",
    "samoyed.n.03": "Samoyed",
    "chow.n.03": "Chow Chow",
    "brabancon_griffon.n.01": "Brussels Griffon",
    "pembroke.n.01": "Pembroke Welsh Corgi",
    "cardigan.n.02": "Cardigan Welsh Corgi",
    "mexican_hairless.n.01": "Mexican Hairless Dog",
    # wild canines, cats, bears
    "timber_wolf.n.01": "Gray Wolf",
    "white_wolf.n.01": "Arctic Wolf",
    "african_hunting_dog.n.01": "African Wild Dog",
    "red_fox.n.03": "Red Fox",
    "grey_fox.n.01": "Gray Fox",
    "tabby.n.01": None,
    "tiger_cat.n.02": None,
    "egyptian_cat.n.01": None,
    "leopard.n.02": "Leopard",
    "tiger.n.02": "Tiger",
    "american_black_bear.n.01": "Black Bear",
    "ice_bear.n.01": "Polar Bear",
    # other mammals
    "tusker.n.01": None,
    "echidna.n.02": "Echidna",
    "wood_rabbit.n.01": "Cottontail Rabbit",
    "angora.n.03": "Angora Rabbit",
    "fox_squirrel.n.01": "Fox Squirrel",
    "beaver.n.07": "Beaver",
    "guinea_pig.n.02": "Guinea Pig",
    "sorrel.n.05": None,
    "hog.n.03": "Pig",
    "hippopotamus.n.01": "Hippopotamus",
    "ram.n.05": "Ram",
    "bighorn.n.02": "Bighorn Sheep",
    "arabian_camel.n.01": "Dromedary",
    "weasel.n.02": "Weasel",
    "mink.n.03": "Mink",
    "polecat.n.02": "Polecat",
    "black-footed_ferret.n.01": "Ferret",
    "otter.n.02": "Otter",
    "skunk.n.04": "Skunk",
    "badger.n.02": "Badger",
    "three-toed_sloth.n.01": "Sloth",
    "gibbon.n.02": "Gibbon",
    "patas.n.01": "Patas Monkey",
    "colobus.n.01": "Colobus Monkey",
    "capuchin.n.02": "Capuchin Monkey",
    "titi.n.03": "Titi Monkey",
    "madagascar_cat.n.01": "Ring-Tailed Lemur",
    "indian_elephant.n.01": "Asian Elephant",
    "lesser_panda.n.01": "Red Panda",
    "grey_whale.n.01": "Gray Whale",
    "killer_whale.n.01": "Orca",
    "eel.n.02": "Eel",
    "gar.n.01": "Gar",
    # clothing
    "abaya.n.01": "Abaya",
    "bathing_cap.n.01": "Swim Cap",
    "bearskin.n.02": "Bearskin Hat",
    "bikini.n.02": "Bikini",
    "brassiere.n.01": "Bra",
    "cardigan.n.01": "Cardigan",
    "christmas_stocking.n.01": "Christmas Stocking",
    "cloak.n.01": "Cloak",
    "clog.n.01": "Clog",
    "gown.n.01": "Gown",
    "hoopskirt.n.01": "Hoop Skirt",
    "jean.n.01": "Jeans",
    "jersey.n.03": "T-Shirt",
    "loafer.n.02": "Loafer",
    "maillot.n.02": "Swimsuit",
    "maillot.n.01": "Swimsuit",
    "mask.n.01": None,
    "mortarboard.n.02": "Graduation Cap",
    "pajama.n.02": "Pajamas",
    "pickelhaube.n.01": None,
    "suit.n.01": "Suit",
    "sunglass.n.01": "Sunglasses",
    "sunglasses.n.01": "Sunglasses",
    "swimming_trunks.n.01": "Swim Trunks",
    "sombrero.n.02": "Sombrero",
    "stole.n.01": "Stole",
    "windsor_tie.n.01": "Windsor Tie",
    "wig.n.01": "Wig",
    # vehicles
    "amphibian.n.01": "Amphibious Vehicle",
    "balloon.n.01": "Hot Air Balloon",
    "barrow.n.03": "Wheelbarrow",
    "beach_wagon.n.01": "Station Wagon",
    "bicycle-built-for-two.n.01": "Tandem Bicycle",
    "bobsled.n.02": "Bobsled",
    "cab.n.03": "Taxi",
    "convertible.n.01": "Convertible",
    "dogsled.n.01": "Dog Sled",
    "fire_engine.n.01": "Fire Truck",
    "golfcart.n.01": "Golf Cart",
    "gondola.n.02": "Gondola",
    "half_track.n.01": "Half-Track",
    "jinrikisha.n.01": "Rickshaw",
    "liner.n.04": "Ocean Liner",
    "minivan.n.01": "Minivan",
    "missile.n.01": "Missile",
    "projectile.n.01": "Missile",
    "passenger_car.n.01": "Railway Carriage",
    "pickup.n.01": "Pickup Truck",
    "pirate.n.03": "Pirate Ship",
    "racer.n.02": "Race Car",
    "recreational_vehicle.n.01": "RV",
    "schooner.n.02": "Schooner",
    "streetcar.n.01": "Tram",
    "tank.n.01": "Tank",
    "tractor.n.01": "Tractor",
    "trailer_truck.n.01": "Semi Truck",
    "tricycle.n.01": "Tricycle",
    "warplane.n.01": "Warplane",
    "wreck.n.04": "Shipwreck",
    # buildings and places
    "altar.n.02": "Altar",
    "apiary.n.01": "Beehive",
    "bannister.n.02": "Handrail",
    "beacon.n.03": "Lighthouse",
    "bell_cote.n.01": "Bell Tower",
    "castle.n.02": "Castle",
    "church.n.02": "Church",
    "cinema.n.02": "Cinema",
    "confectionery.n.02": "Candy Store",
    "dock.n.05": "Dock",
    "dome.n.04": "Dome",
    "grocery_store.n.01": "Grocery Store",
    "library.n.05": "Library",
    "patio.n.01": "Patio",
    "pier.n.03": "Pier",
    "prison.n.01": "Prison",
    "stage.n.03": "Stage",
    "stupa.n.01": "Stupa",
    "thatch.n.04": "Thatched Roof",
    "tobacco_shop.n.01": "Tobacco Shop",
    "toyshop.n.01": "Toy Store",
    "vault.n.03": "Vaulted Ceiling",
    "worm_fence.n.01": "Rail Fence",
    "lumbermill.n.01": "Sawmill",
    "alp.n.01": "Mountain",
    "cliff.n.01": "Cliff",
    "lakeside.n.01": "Lake",
    # ImageNet's seashore photos are beaches, sand and surf.
    "seashore.n.01": "Beach",
    "valley.n.01": "Valley",
    "volcano.n.02": "Volcano",
    "ballplayer.n.01": "Baseball Player",
    "groom.n.01": "Groom",
    # furniture and household
    "bassinet.n.01": "Bassinet",
    "chiffonier.n.01": "Dresser",
    "file.n.03": "Filing Cabinet",
    "medicine_chest.n.01": "Medicine Cabinet",
    "four-poster.n.01": "Four-Poster Bed",
    "studio_couch.n.01": "Sofa Bed",
    "ashcan.n.01": "Trash Can",
    "barrel.n.02": "Barrel",
    "bucket.n.01": "Bucket",
    "caldron.n.01": "Cauldron",
    "chest.n.02": "Chest",
    "coffeepot.n.01": "Coffee Pot",
    "crock_pot.n.01": "Slow Cooker",
    "dishrag.n.01": "Dishcloth",
    "espresso_maker.n.01": "Espresso Machine",
    "iron.n.04": "Iron",
    "microwave.n.02": "Microwave",
    "mortar.n.03": "Mortar and Pestle",
    "nipple.n.02": "Baby Bottle Nipple",
    "packet.n.03": "Packet",
    "pencil_box.n.01": "Pencil Case",
    "pitcher.n.02": "Pitcher",
    "plate_rack.n.01": "Dish Rack",
    "pop_bottle.n.01": "Soda Bottle",
    "pot.n.04": "Flower Pot",
    "purse.n.03": "Purse",
    "safe.n.01": "Safe",
    "saltshaker.n.01": "Salt Shaker",
    "swab.n.02": "Mop",
    "tray.n.01": "Tray",
    "tub.n.02": "Tub",
    "vacuum.n.04": "Vacuum Cleaner",
    "washbasin.n.02": "Sink",
    "washer.n.03": "Washing Machine",
    "window_shade.n.01": "Window Blind",
    "wooden_spoon.n.02": "Wooden Spoon",
    "wool.n.01": "Wool",
    "velvet.n.01": "Velvet",
    "toilet_tissue.n.01": "Toilet Paper",
    "quilt.n.01": "Quilt",
    "pillow.n.01": "Pillow",
    "doormat.n.02": "Doormat",
    # tools, devices, electronics
    "abacus.n.02": "Abacus",
    "pay-phone.n.01": "Pay Phone",
    "chainlink_fence.n.01": "Chain-Link Fence",
    "bottlecap.n.01": "Bottle Cap",
    "puck.n.02": "Hockey Puck",
    "paddlewheel.n.01": "Paddle Wheel",
    "bookshop.n.01": "Bookstore",
    "shoe_shop.n.01": "Shoe Store",
    "carpenter's_kit.n.01": "Tool Kit",
    "crane.n.04": "Construction Crane",
    "band_aid.n.01": "Adhesive Bandage",
    "ballpoint.n.01": "Ballpoint Pen",
    "binder.n.03": "Ring Binder",
    "bow.n.04": "Bow",
    "brass.n.07": "Plaque",
    "cash_machine.n.01": "ATM",
    "cassette.n.01": "Cassette Tape",
    "cd_player.n.01": "CD Player",
    "cellular_telephone.n.01": "Mobile Phone",
    "chain.n.03": "Chain",
    "chain_saw.n.01": "Chainsaw",
    "chime.n.01": "Chime",
    "cleaver.n.01": "Cleaver",
    "coil.n.01": "Spiral",
    "computer_keyboard.n.01": "Computer Keyboard",
    "cornet.n.01": "Trumpet",
    "dial_telephone.n.01": "Rotary Phone",
    "disk_brake.n.01": "Disc Brake",
    "drilling_platform.n.01": "Oil Rig",
    "drum.n.01": "Drum",
    "drumstick.n.02": "Drumstick",
    "hair_slide.n.01": "Hair Clip",
    "hammer.n.02": "Hammer",
    "hand_blower.n.01": "Hair Dryer",
    "hand-held_computer.n.01": "Handheld Computer",
    "hard_disc.n.01": "Hard Drive",
    "harvester.n.02": "Combine Harvester",
    "hatchet.n.02": "Hatchet",
    "hook.n.04": "Hook",
    "ipod.n.01": "MP3 Player",
    "joystick.n.02": "Joystick",
    "knot.n.02": "Knot",
    "laptop.n.01": "Laptop",
    "notebook.n.02": "Laptop",
    "lighter.n.02": "Lighter",
    "loudspeaker.n.01": "Speaker",
    "loupe.n.01": "Loupe",
    "magnetic_compass.n.01": "Compass",
    "marimba.n.01": "Marimba",
    "maraca.n.01": "Maracas",
    "matchstick.n.01": "Match",
    "maze.n.01": "Maze",
    "monitor.n.05": "Monitor",
    "mouse.n.04": "Computer Mouse",
    "muzzle.n.03": "Muzzle",
    "nail.n.02": "Nail",
    "organ.n.05": "Pipe Organ",
    "panpipe.n.01": "Pan Flute",
    "pick.n.05": "Guitar Pick",
    "plane.n.05": "Hand Plane",
    "plunger.n.03": "Plunger",
    "polaroid_camera.n.01": "Instant Camera",
    "pole.n.01": "Pole",
    "printer.n.02": "Printer",
    "projector.n.02": "Projector",
    "quill.n.01": "Quill",
    "racket.n.04": "Racket",
    "radiator.n.03": "Radiator",
    "radio.n.03": "Radio",
    "reel.n.03": "Reel",
    "reflex_camera.n.01": "SLR Camera",
    "rubber_eraser.n.01": "Eraser",
    "rule.n.12": "Ruler",
    "sax.n.02": "Saxophone",
    "scale.n.07": "Scale",
    "screen.n.03": "Screen",
    "screw.n.04": "Screw",
    "shield.n.02": "Shield",
    "shoji.n.01": "Shoji Screen",
    "slot.n.07": "Slot Machine",
    "solar_dish.n.01": "Solar Collector",
    "spindle.n.04": "Spindle",
    "spotlight.n.02": "Spotlight",
    "swing.n.02": "Swing",
    "switch.n.01": "Switch",
    "teddy.n.01": "Teddy Bear",
    "television.n.02": "TV",
    "thresher.n.01": "Thresher",
    "torch.n.01": "Torch",
    "typewriter_keyboard.n.01": "Typewriter",
    "upright.n.02": "Upright Piano",
    "web_site.n.01": "Website",
    "whistle.n.04": "Whistle",
    "wing.n.02": "Airplane Wing",
    "book_jacket.n.01": "Book Cover",
    "crossword_puzzle.n.01": "Crossword",
    "street_sign.n.01": "Street Sign",
    "menu.n.02": "Menu",
    "paddle.n.04": "Paddle",
    "pedestal.n.03": "Pedestal",
    "stretcher.n.03": "Stretcher",
    "tripod.n.01": "Tripod",
    "oil_filter.n.01": "Oil Filter",
    "car_wheel.n.01": "Car Wheel",
    "car_mirror.n.01": "Car Mirror",
    "gasmask.n.01": "Gas Mask",
    "cuirass.n.01": "Cuirass",
    # food and drink
    "plate.n.08": "Meal",
    "consomme.n.01": "Broth",
    "hot_pot.n.01": "Hot Pot",
    "ice_lolly.n.01": "Ice Pop",
    "french_loaf.n.01": "Baguette",
    "hotdog.n.02": "Hot Dog",
    "mashed_potato.n.01": "Mashed Potatoes",
    "head_cabbage.n.02": "Cabbage",
    "broccoli.n.02": "Broccoli",
    "cauliflower.n.02": "Cauliflower",
    "zucchini.n.02": "Zucchini",
    "cucumber.n.02": "Cucumber",
    "artichoke.n.02": "Artichoke",
    "cardoon.n.02": "Cardoon",
    "mushroom.n.05": "Mushroom",
    "fig.n.04": "Fig",
    "pineapple.n.02": "Pineapple",
    "banana.n.02": "Banana",
    "jackfruit.n.02": "Jackfruit",
    "custard_apple.n.02": "Custard Apple",
    "pomegranate.n.02": "Pomegranate",
    "orange.n.01": "Orange",
    "carbonara.n.01": "Pasta",
    "dough.n.01": "Dough",
    "meat_loaf.n.01": "Meatloaf",
    "potpie.n.01": "Pot Pie",
    "cup.n.06": "Cup",
    "espresso.n.01": "Espresso",
    # nature and plants
    "yellow_lady's_slipper.n.01": "Lady's Slipper Orchid",
    "corn.n.02": "Corn",
    "ear.n.05": "Corn",
    "hip.n.05": "Rose Hip",
    "buckeye.n.01": "Horse Chestnut",
    "agaric.n.02": "Mushroom",
    "gyromitra.n.01": "False Morel",
    "hen-of-the-woods.n.01": "Hen of the Woods",
    "earthstar.n.01": "Earthstar",
    "stinkhorn.n.01": "Stinkhorn",
    "coral_fungus.n.01": "Coral Fungus",
    "bubble.n.01": "Bubble",
    "sandbar.n.01": "Sandbar",
    "promontory.n.01": "Headland",
}

# Parents set by hand for a label whose synsets disagree or whose WordNet
# parents would mislead ("Sea Life" gathers fish, whales and jellyfish; it
# must not inherit "Mammal" from one and "Invertebrate" from another).
FIXED_PARENTS: dict[str, tuple[str, ...]] = {
    "Sea Life": ("Animal",),
    # lamp.n.02 is furniture, lamp.n.01 (lanterns, spotlights) is not.
    "Lamp": (),
    # Rekognition files food and drink under one "Food and Beverage"
    # category; as a parent it makes coffee and pizza one search.
    "Food": ("Food and Beverage",),
    "Beverage": ("Food and Beverage",),
    # Scenes: ImageNet's landscape classes sit under WordNet's "geological
    # formation" (Nature); people also call them outdoors, and a beach or a
    # lake is water.
    "Nature": ("Outdoors",),
    "Shoreline": ("Water",),
    "Beach": ("Coast",),
    "Lake": ("Shoreline",),
    "Headland": ("Coast",),
    "Sandbar": ("Shoreline",),
    "Street Sign": ("Road Sign",),
    # ImageNet's "toilet seat" photos are whole toilets.
    "Toilet Seat": ("Toilet",),
    "Glass": ("Tableware",),
    # ImageNet's "web site" photos are screen captures, and it fires on them
    # (81-92 percent on the judged set's screenshots and documentation pages).
    "Website": ("Screenshot", "Text"),
    # Classes whose photos are mostly lettering; on pages of text, sudokus
    # and formulae the classifier answers with them. A plaque is a lettered
    # tablet far more often than a monument.
    "Plaque": ("Text",),
    "Menu": ("Text",),
    "Crossword": ("Puzzle", "Text"),
    "Book Cover": ("Book", "Text"),
    "Bottle": ("Tableware",),
}

# Display names that more than one class may take as its own label on
# purpose; any other clash is a curation mistake and fails the build.
SHARED_LEAF_NAMES = frozenset(
    {"Newt", "Swimsuit", "Sunglasses", "Laptop", "Missile", "Corn", "Mushroom", "Duck"}
)

# Labels no ImageNet class maps to, with their nearest parents: what the
# object detector (COCO-80) and the scene rules (gallery/detection/scenes.py)
# name, so that every label the engine shows has Rekognition-like parents.
EXTRA_LABELS: dict[str, tuple[str, ...]] = {
    # COCO-80 objects ImageNet lacks
    "Fire Hydrant": (),
    "Road Sign": ("Sign",),
    "Stop Sign": ("Road Sign",),
    "Giraffe": ("Mammal",),
    "Cow": ("Cattle",),
    "Handbag": ("Bag",),
    "Luggage": (),
    "Suitcase": ("Luggage",),
    "Frisbee": ("Toy",),
    "Kite": ("Toy",),
    "Snowboard": ("Sports Equipment",),
    "Skateboard": ("Sports Equipment",),
    "Surfboard": ("Sports Equipment",),
    "Baseball Bat": ("Sports Equipment",),
    "Baseball Glove": ("Sports Equipment", "Glove"),
    "Tennis Racket": ("Racket",),
    "Wine Glass": ("Glass",),
    "Fork": ("Cutlery",),
    "Carrot": ("Vegetable",),
    "Donut": ("Dessert",),
    "Cake": ("Dessert",),
    "Potted Plant": ("Plant",),
    "Toilet": (),
    "Oven": ("Kitchen Appliance",),
    "Scissors": ("Tool",),
    "Toothbrush": ("Toiletries",),
    "Food and Beverage": (),
    # Scenes
    "Outdoors": (),
    "Indoors": (),
    "Water": ("Nature",),
    "Sea": ("Water",),
    "Coast": ("Shoreline", "Sea"),
    "Sky": ("Outdoors",),
    "Sunset": ("Sky",),
    "Snow": ("Nature",),
    "Night": (),
    "Urban": ("Outdoors",),
    "City": ("Urban",),
    "Road": ("Outdoors",),
    "Street": ("City", "Road"),
    "Room": ("Indoors",),
    "Kitchen": ("Room",),
    "Bedroom": ("Room",),
    "Living Room": ("Room",),
    "Bathroom": ("Room",),
    "Dining Room": ("Room",),
    "Office": ("Room",),
    "Art": (),
    "Painting": ("Art",),
    "Screenshot": (),
    # What the OCR step names (lines of text; a page where text dominates)
    "Text": (),
    "Document": ("Text",),
}

# The object detector's COCO-80 class names (as in the COCO annotations) and
# the label each becomes. Every value is a label of the taxonomy.
COCO_LABELS: dict[str, str] = {
    "person": "Person",
    "bicycle": "Bicycle",
    "car": "Car",
    "motorcycle": "Motorcycle",
    "airplane": "Airplane",
    "bus": "Bus",
    "train": "Train",
    "truck": "Truck",
    "boat": "Boat",
    "traffic light": "Traffic Light",
    "fire hydrant": "Fire Hydrant",
    "stop sign": "Stop Sign",
    "parking meter": "Parking Meter",
    "bench": "Bench",
    "bird": "Bird",
    "cat": "Cat",
    "dog": "Dog",
    "horse": "Horse",
    "sheep": "Sheep",
    "cow": "Cow",
    "elephant": "Elephant",
    "bear": "Bear",
    "zebra": "Zebra",
    "giraffe": "Giraffe",
    "backpack": "Backpack",
    "umbrella": "Umbrella",
    "handbag": "Handbag",
    "tie": "Tie",
    "suitcase": "Suitcase",
    "frisbee": "Frisbee",
    "skis": "Ski",
    "snowboard": "Snowboard",
    "sports ball": "Ball",
    "kite": "Kite",
    "baseball bat": "Baseball Bat",
    "baseball glove": "Baseball Glove",
    "skateboard": "Skateboard",
    "surfboard": "Surfboard",
    "tennis racket": "Tennis Racket",
    "bottle": "Bottle",
    "wine glass": "Wine Glass",
    "cup": "Cup",
    "fork": "Fork",
    "knife": "Knife",
    "spoon": "Spoon",
    "bowl": "Bowl",
    "banana": "Banana",
    "apple": "Apple",
    "sandwich": "Sandwich",
    "orange": "Orange",
    "broccoli": "Broccoli",
    "carrot": "Carrot",
    "hot dog": "Hot Dog",
    "pizza": "Pizza",
    "donut": "Donut",
    "cake": "Cake",
    "chair": "Chair",
    "couch": "Couch",
    "potted plant": "Potted Plant",
    "bed": "Bed",
    "dining table": "Dining Table",
    "toilet": "Toilet",
    "tv": "TV",
    "laptop": "Laptop",
    # "Mouse" alone would read as the animal, as "Kite" read as the toy.
    "mouse": "Computer Mouse",
    "remote": "Remote Control",
    "keyboard": "Computer Keyboard",
    "cell phone": "Mobile Phone",
    "microwave": "Microwave",
    "oven": "Oven",
    "toaster": "Toaster",
    "sink": "Sink",
    "refrigerator": "Refrigerator",
    "book": "Book",
    "clock": "Clock",
    "vase": "Vase",
    "scissors": "Scissors",
    "teddy bear": "Teddy Bear",
    "hair drier": "Hair Dryer",
    "toothbrush": "Toothbrush",
}

# Species and breeds few people could name or check ("Coucal", "Dowitcher",
# "Tench", "Kuvasz"), and catch-all classes: their own label is shown only at
# SURE percent or more;
# below that the photo shows the parent ("Bird", "Fish", "Dog"), to which
# their probability still counts.
SURE = 90.0
OBSCURE = frozenset(
    {
        # fish
        "tench.n.01", "barracouta.n.01", "gar.n.01", "coho.n.02", "sturgeon.n.01",
        "rock_beauty.n.01",
        # birds
        "brambling.n.01", "junco.n.01", "indigo_bunting.n.01", "bulbul.n.01",
        "water_ouzel.n.01", "coucal.n.01", "bee_eater.n.01", "jacamar.n.01",
        "red-breasted_merganser.n.01", "limpkin.n.01", "european_gallinule.n.01",
        "american_coot.n.01", "bustard.n.01", "ruddy_turnstone.n.01",
        "red-backed_sandpiper.n.01", "redshank.n.01", "dowitcher.n.01", "bittern.n.01",
        "little_blue_heron.n.01", "black_grouse.n.01", "ptarmigan.n.01",
        "ruffed_grouse.n.01", "prairie_chicken.n.01", "lorikeet.n.01", "house_finch.n.01",
        "chickadee.n.01",
        # amphibians and reptiles
        "tailed_frog.n.01", "spotted_salamander.n.01", "mud_turtle.n.01", "terrapin.n.01",
        "whiptail.n.01", "agama.n.01", "frilled_lizard.n.01", "alligator_lizard.n.01",
        "green_lizard.n.01", "american_chameleon.n.01", "thunder_snake.n.01",
        "ringneck_snake.n.01", "hognose_snake.n.01", "green_snake.n.02", "king_snake.n.01",
        "water_snake.n.01", "vine_snake.n.01", "night_snake.n.01", "horned_viper.n.01",
        "sidewinder.n.01", "sea_snake.n.01",
        # invertebrates
        "harvestman.n.01", "barn_spider.n.01", "garden_spider.n.01",
        "black_and_gold_garden_spider.n.01", "wolf_spider.n.01", "isopod.n.01",
        "chiton.n.02", "flatworm.n.01", "nematode.n.01", "sea_slug.n.01", "tiger_beetle.n.01",
        "ground_beetle.n.01", "long-horned_beetle.n.01", "leaf_beetle.n.01",
        "weevil.n.01", "leafhopper.n.01", "lacewing.n.01", "admiral.n.02", "ringlet.n.04",
        "sulphur_butterfly.n.01", "cabbage_butterfly.n.01", "rock_crab.n.01",
        "fiddler_crab.n.01", "dungeness_crab.n.02", "king_crab.n.03", "sea_cucumber.n.01",
        "trilobite.n.01",
        # mammals
        "dhole.n.01", "kit_fox.n.01", "red_wolf.n.01", "hartebeest.n.01", "polecat.n.02",
        "siamang.n.01", "guenon.n.01", "patas.n.01", "langur.n.01", "colobus.n.01",
        "titi.n.03", "indri.n.01", "marmoset.n.01", "proboscis_monkey.n.01",
        "howler_monkey.n.01", "echidna.n.02", "dugong.n.01", "mink.n.03", "weasel.n.02",
        # dog breeds few people tell apart
        "japanese_spaniel.n.01", "blenheim_spaniel.n.01", "toy_terrier.n.01",
        "bluetick.n.01", "black-and-tan_coonhound.n.01", "walker_hound.n.01",
        "english_foxhound.n.01", "redbone.n.01", "ibizan_hound.n.01", "otterhound.n.01",
        "scottish_deerhound.n.01", "norwegian_elkhound.n.01", "bedlington_terrier.n.01",
        "border_terrier.n.01", "kerry_blue_terrier.n.01", "irish_terrier.n.01",
        "norfolk_terrier.n.01", "norwich_terrier.n.01", "lakeland_terrier.n.01",
        "sealyham_terrier.n.01", "australian_terrier.n.01", "dandie_dinmont.n.01",
        "giant_schnauzer.n.01", "standard_schnauzer.n.01", "tibetan_terrier.n.01",
        "silky_terrier.n.01", "soft-coated_wheaten_terrier.n.01",
        "flat-coated_retriever.n.01", "curly-coated_retriever.n.01",
        "chesapeake_bay_retriever.n.01", "gordon_setter.n.01", "clumber.n.01",
        "welsh_springer_spaniel.n.01", "sussex_spaniel.n.01", "irish_water_spaniel.n.01",
        "kuvasz.n.01", "schipperke.n.01", "groenendael.n.01", "malinois.n.01",
        "briard.n.01", "kelpie.n.02", "komondor.n.01", "bouvier_des_flandres.n.01",
        "greater_swiss_mountain_dog.n.01", "appenzeller.n.01", "entlebucher.n.01",
        "tibetan_mastiff.n.01", "eskimo_dog.n.01", "affenpinscher.n.01",
        "leonberg.n.01", "keeshond.n.01", "brabancon_griffon.n.01",
        "mexican_hairless.n.01",
        # catch-alls: the classifier's answer for a whole family, misleading
        # by name (any sunflower or zinnia is a "daisy", any double-decker
        # bus a "trolleybus" on the judged photos)
        "daisy.n.01", "trolleybus.n.01",
    }
)  # fmt: skip

MINOR_WORDS = frozenset({"a", "an", "and", "de", "des", "for", "in", "of", "on", "the", "to"})


@dataclass
class Synset:
    offset: int
    name: str
    words: list[str]
    hypernyms: list[int]


class WordNet:
    """The noun half of a WordNet 3.0 database directory, just enough for this script."""

    def __init__(self, root: Path) -> None:
        self.by_offset: dict[int, Synset] = {}
        self.by_name: dict[str, Synset] = {}
        self._read(root)

    def _read(self, root: Path) -> None:
        raw: dict[int, tuple[list[str], list[int]]] = {}
        with open(root / "data.noun", encoding="utf-8") as lines:
            for line in lines:
                if line.startswith("  "):  # the licence header
                    continue
                fields = line.partition(" | ")[0].split()
                offset, word_count = int(fields[0]), int(fields[3], 16)
                words = [fields[4 + 2 * i] for i in range(word_count)]
                at = 4 + 2 * word_count
                pointer_count = int(fields[at])
                hypernyms = []
                for i in range(pointer_count):
                    symbol, target, pos = fields[at + 1 + 4 * i : at + 4 + 4 * i]
                    # "@" hypernym, "@i" instance hypernym; both mean "is a".
                    if symbol in ("@", "@i") and pos == "n":
                        hypernyms.append(int(target))
                raw[offset] = (words, hypernyms)
        # nltk-style names ("cat.n.01") number a lemma's senses in index.noun order.
        senses: dict[str, list[int]] = {}
        with open(root / "index.noun", encoding="utf-8") as lines:
            for line in lines:
                if line.startswith("  "):
                    continue
                fields = line.split()
                synset_count = int(fields[2])
                senses[fields[0]] = [int(o) for o in fields[len(fields) - synset_count :]]
        for offset, (words, hypernyms) in raw.items():
            lemma = words[0].lower()
            name = f"{lemma}.n.{senses[lemma].index(offset) + 1:02d}"
            synset = Synset(offset, name, words, hypernyms)
            self.by_offset[offset] = synset
            self.by_name[name] = synset

    def synset(self, name: str) -> Synset:
        try:
            return self.by_name[name]
        except KeyError:
            raise SystemExit(f"unknown WordNet synset {name!r} in the curation tables") from None

    def from_wnid(self, wnid: str) -> Synset:
        return self.by_offset[int(wnid[1:])]


class BuildError(Exception):
    pass


def title_case(text: str) -> str:
    """'black-and-tan coonhound' -> 'Black-and-Tan Coonhound'; keeps 'CD', 'iPod' as written."""
    words = []
    for w_index, word in enumerate(text.replace("_", " ").split()):
        parts = []
        for p_index, part in enumerate(word.split("-")):
            first = w_index == 0 and p_index == 0
            if part.lower() in MINOR_WORDS and not first:
                parts.append(part.lower())
            else:
                parts.append(part[:1].upper() + part[1:])
        words.append("-".join(parts))
    return " ".join(words)


def is_title_case(name: str) -> bool:
    pieces = re.split(r"[ -]", name)
    if not pieces[0][:1].isupper():
        return False
    return all(p[:1].isupper() or p[:1].isdigit() or p in MINOR_WORDS for p in pieces[1:])


class Builder:
    def __init__(self, wordnet: WordNet, wnids: Sequence[str]) -> None:
        self.wn = wordnet
        self.wnids = list(wnids)
        for name in [*CATEGORIES, *EXTRA_HYPERNYMS, *REPLACED_HYPERNYMS]:
            self.wn.synset(name)
        for targets in [*EXTRA_HYPERNYMS.values(), *REPLACED_HYPERNYMS.values()]:
            for name in targets:
                self.wn.synset(name)
        class_names = {self.wn.from_wnid(w).name for w in self.wnids}
        stray = sorted(set(LEAF_NAMES) - class_names)
        if stray:
            raise BuildError(f"LEAF_NAMES entries that are not ImageNet classes: {stray}")
        stray = sorted(OBSCURE - class_names)
        if stray:
            raise BuildError(f"OBSCURE entries that are not ImageNet classes: {stray}")
        # label name -> {parent name: (wordnet distance, first seen)}
        self.parents: dict[str, dict[str, tuple[int, int]]] = {}
        self.class_labels: list[list[str]] = []
        self._seen = 0
        self.obscure: set[str] = set()
        self.extra_labels: list[str] = []

    def hypernyms(self, synset: Synset) -> list[Synset]:
        if synset.name in REPLACED_HYPERNYMS:
            own = [self.wn.synset(n) for n in REPLACED_HYPERNYMS[synset.name]]
        else:
            own = [self.wn.by_offset[o] for o in synset.hypernyms]
        return own + [self.wn.synset(n) for n in EXTRA_HYPERNYMS.get(synset.name, ())]

    def nearest_categories(self, start: Synset) -> list[tuple[str, int]]:
        """Display names of the first allow-listed synsets on every path upwards, nearest first."""
        found: dict[str, int] = {}
        queue: deque[tuple[Synset, int]] = deque((h, 1) for h in self.hypernyms(start))
        visited: set[str] = set()
        while queue:
            synset, distance = queue.popleft()
            if synset.name in visited:
                continue
            visited.add(synset.name)
            if synset.name in CATEGORIES:
                found.setdefault(CATEGORIES[synset.name], distance)
                continue  # its own parents come from its own walk
            queue.extend((h, distance + 1) for h in self.hypernyms(synset))
        return sorted(found.items(), key=lambda item: item[1])

    def add_parents(self, label: str, parents: Iterable[tuple[str, int]]) -> None:
        known = self.parents.setdefault(label, {})
        for parent, distance in parents:
            if parent == label:
                continue  # two synsets sharing a display name, one above the other
            self._seen += 1
            if parent not in known or distance < known[parent][0]:
                known[parent] = (distance, known.get(parent, (0, self._seen))[1])

    def leaf_name(self, synset: Synset) -> str | None:
        if synset.name in LEAF_NAMES:
            return LEAF_NAMES[synset.name]
        if synset.name in CATEGORIES:
            return CATEGORIES[synset.name]
        return title_case(synset.words[0])

    def build(self) -> None:
        for name, label in CATEGORIES.items():
            self.add_parents(label, self.nearest_categories(self.wn.synset(name)))
        leaf_owners: dict[str, list[str]] = {}
        class_roots: list[list[str]] = []
        for wnid in self.wnids:
            synset = self.wn.from_wnid(wnid)
            above = self.nearest_categories(synset)
            leaf = self.leaf_name(synset)
            if leaf is None:
                class_roots.append([name for name, _ in above])
                continue
            if synset.name not in CATEGORIES:
                leaf_owners.setdefault(leaf, []).append(synset.name)
            self.add_parents(leaf, above)
            class_roots.append([leaf])
        self.check_leaf_clashes(leaf_owners)
        self.obscure = self.obscure_labels(leaf_owners)
        self.check_cycles()
        self.class_labels = [self.with_ancestors(roots) for roots in class_roots]
        reached = {label for labels in self.class_labels for label in labels}
        clashes = sorted(set(EXTRA_LABELS) & (set(leaf_owners) | set(CATEGORIES.values())))
        if clashes:
            raise BuildError(f"EXTRA_LABELS that are already class or category names: {clashes}")
        self.extra_labels = self.with_ancestors(list(EXTRA_LABELS))
        missing = sorted(set(COCO_LABELS.values()) - reached - set(self.extra_labels))
        if missing:
            raise BuildError(f"COCO_LABELS names that are not labels: {missing}")

    def obscure_labels(self, owners: dict[str, list[str]]) -> set[str]:
        """Own labels of OBSCURE classes; each must belong to obscure classes only."""
        labels = set()
        for leaf, synsets in owners.items():
            if any(s in OBSCURE for s in synsets):
                if not all(s in OBSCURE for s in synsets) or leaf in CATEGORIES.values():
                    raise BuildError(f"{leaf!r} is obscure for some classes only: {synsets}")
                labels.add(leaf)
        return labels

    def check_leaf_clashes(self, owners: dict[str, list[str]]) -> None:
        problems = []
        for leaf, synsets in owners.items():
            shared = leaf in SHARED_LEAF_NAMES
            if len(synsets) > 1 and not shared:
                problems.append(f"{leaf!r} is the own label of {synsets}")
            category_synsets = [s for s, label in CATEGORIES.items() if label == leaf]
            for owner in synsets:
                if (
                    category_synsets
                    and not shared
                    and not any(self.is_below(owner, c) for c in category_synsets)
                ):
                    problems.append(f"{leaf!r} of {owner} is also the category {category_synsets}")
        if problems:
            raise BuildError("label name clashes:\n  " + "\n  ".join(problems))

    def is_below(self, name: str, ancestor: str) -> bool:
        stack, seen = [self.wn.synset(name)], set()
        while stack:
            synset = stack.pop()
            if synset.name == ancestor:
                return True
            if synset.name not in seen:
                seen.add(synset.name)
                stack.extend(self.hypernyms(synset))
        return False

    def direct_parents(self, label: str) -> list[str]:
        if label in FIXED_PARENTS:
            return list(FIXED_PARENTS[label])
        if label in EXTRA_LABELS:
            return list(EXTRA_LABELS[label])
        known = self.parents.get(label, {})
        return sorted(known, key=lambda p: known[p])

    def ancestors(self, label: str) -> list[str]:
        """All parents, nearest first: every label comes before its own parents.

        Ordered by the longest path from ``label``, so that "Bird" precedes
        "Animal" even where WordNet also links the two directly; ties keep
        breadth-first order.
        """
        order: list[str] = []
        queue = deque(self.direct_parents(label))
        while queue:
            parent = queue.popleft()
            if parent not in order:
                order.append(parent)
                queue.extend(self.direct_parents(parent))
        depth: dict[str, int] = {}

        def longest(current: str, steps: int) -> None:
            for parent in self.direct_parents(current):
                if depth.get(parent, 0) < steps + 1:
                    depth[parent] = steps + 1
                    longest(parent, steps + 1)

        longest(label, 0)
        return sorted(order, key=lambda name: (depth[name], order.index(name)))

    def with_ancestors(self, roots: Sequence[str]) -> list[str]:
        labels: list[str] = []
        for root in roots:
            for label in [root, *self.ancestors(root)]:
                if label not in labels:
                    labels.append(label)
        return labels

    def check_cycles(self) -> None:
        state: dict[str, int] = {}  # 1 on the current path, 2 done

        def visit(label: str, path: list[str]) -> None:
            if state.get(label) == 2:
                return
            if state.get(label) == 1:
                raise BuildError("parent cycle: " + " -> ".join([*path, label]))
            state[label] = 1
            for parent in self.direct_parents(label):
                visit(parent, [*path, label])
            state[label] = 2

        for label in [*self.parents, *FIXED_PARENTS, *EXTRA_LABELS]:
            visit(label, [])

    def check_names(self, names: Iterable[str]) -> None:
        problems = []
        for name in names:
            if name.lower() in JARGON:
                problems.append(f"{name!r} is WordNet jargon")
            if not is_title_case(name) or "_" in name:
                problems.append(f"{name!r} is not in Title Case")
        if problems:
            raise BuildError("bad label names:\n  " + "\n  ".join(problems))

    def document(self) -> dict[str, object]:
        reached = {label for labels in self.class_labels for label in labels}
        used = sorted(reached.union(self.extra_labels))
        self.check_names(used)
        index = {name: i for i, name in enumerate(used)}
        labels: list[dict[str, object]] = []
        for name in used:
            row: dict[str, object] = {"name": name, "parents": self.ancestors(name)}
            if name in self.obscure:
                row["sure"] = SURE
            labels.append(row)
        classes = []
        for wnid, names in zip(self.wnids, self.class_labels, strict=True):
            if not names:
                raise BuildError(f"class {wnid} has no label")
            synset = self.wn.from_wnid(wnid)
            # "name" is only for people reading the file.
            imagenet_name = synset.words[0].replace("_", " ")
            classes.append(
                {"wnid": wnid, "name": imagenet_name, "labels": [index[n] for n in names]}
            )
        body: dict[str, object] = {"labels": labels, "classes": classes, "coco": COCO_LABELS}
        digest = hashlib.sha256(canonical(body).encode()).hexdigest()[:12]
        return {
            "format": FORMAT,
            "version": digest,
            "source": SOURCE,
            **body,
        }


def canonical(body: dict[str, object]) -> str:
    """The text the version hash is taken over; taxonomy.py recomputes it the same way."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def render(document: dict[str, object]) -> str:
    """JSON with one label or class a line: small, and a reviewable diff."""
    head = {k: v for k, v in document.items() if k not in ("labels", "classes", "coco")}
    lines = ["{"]
    for key, value in head.items():
        lines.append(f"  {json.dumps(key)}: {json.dumps(value, ensure_ascii=False)},")
    for key in ("labels", "classes"):
        rows = document[key]
        assert isinstance(rows, list)
        lines.append(f'  "{key}": [')
        for i, row in enumerate(rows):
            comma = "," if i < len(rows) - 1 else ""
            lines.append("    " + json.dumps(row, ensure_ascii=False) + comma)
        lines.append("  ],")
    lines.append(f'  "coco": {json.dumps(document["coco"], ensure_ascii=False)}')
    lines.append("}")
    return "\n".join(lines) + "\n"


def read_wnids(path: Path) -> list[str]:
    wnids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if len(wnids) != 1000 or len(set(wnids)) != 1000:
        raise BuildError(f"{path}: expected 1000 distinct wnids, found {len(wnids)}")
    if wnids != sorted(wnids):
        # Standard ImageNet classifiers index the classes in sorted wnid order.
        raise BuildError(f"{path}: wnids are not in sorted (classifier index) order")
    if not all(re.fullmatch(r"n\d{8}", w) for w in wnids):
        raise BuildError(f"{path}: not a list of WordNet noun ids")
    return wnids


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--classes", type=Path, required=True, help="imagenet_synsets.txt (1000 wnids)"
    )
    parser.add_argument(
        "--wordnet", type=Path, default=DEFAULT_WORDNET, help="WordNet 3.0 dict directory"
    )
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--show", action="store_true", help="print every class with its labels")
    args = parser.parse_args(argv)
    try:
        builder = Builder(WordNet(args.wordnet), read_wnids(args.classes))
        builder.build()
        document = builder.document()
    except BuildError as error:
        print(f"build_taxonomy: {error}", file=sys.stderr)
        return 1
    if args.show:
        for wnid, labels in zip(builder.wnids, builder.class_labels, strict=True):
            print(f"{wnid} {builder.wn.from_wnid(wnid).words[0]:<30} {' > '.join(labels)}")
    text = render(document)
    args.output.write_text(text, encoding="utf-8")
    label_rows = document["labels"]
    assert isinstance(label_rows, list)
    print(
        f"wrote {args.output} ({len(text.encode()) // 1024} KB, {len(label_rows)} labels, "
        f"version {document['version']})",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
