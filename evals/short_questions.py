"""A bank of short questions, each with one known answer, written by hand for Hermes.

Only settled, widely known facts are used. evals/make_short_answers.py reads this bank.
No sums: a sum is a maths question, judged by its working (the confidence signal skips it; on 120
generated sums the embedded model's mean log-probability ranked right answers below wrong ones, AUROC 0.42).
"""

# (country as it appears in the question, accepted answers)
_CAPITALS: list[tuple[str, tuple[str, ...]]] = [
    ("France", ("Paris",)), ("Germany", ("Berlin",)), ("Italy", ("Rome", "Roma")), ("Spain", ("Madrid",)),
    ("Portugal", ("Lisbon", "Lisboa")), ("the United Kingdom", ("London",)), ("Ireland", ("Dublin",)),
    ("Belgium", ("Brussels", "Bruxelles", "Brussel")), ("Austria", ("Vienna", "Wien")),
    ("Poland", ("Warsaw", "Warszawa")), ("the Czech Republic", ("Prague", "Praha")), ("Hungary", ("Budapest",)),
    ("Greece", ("Athens", "Athina")), ("Sweden", ("Stockholm",)), ("Norway", ("Oslo",)),
    ("Denmark", ("Copenhagen", "København", "Kobenhavn")), ("Finland", ("Helsinki",)),
    ("Iceland", ("Reykjavik", "Reykjavík")), ("Russia", ("Moscow", "Moskva")), ("Ukraine", ("Kyiv", "Kiev")),
    ("Romania", ("Bucharest", "București", "Bucuresti")), ("Bulgaria", ("Sofia",)),
    ("Serbia", ("Belgrade", "Beograd")), ("Croatia", ("Zagreb",)), ("Slovenia", ("Ljubljana",)),
    ("Slovakia", ("Bratislava",)), ("Estonia", ("Tallinn",)), ("Latvia", ("Riga",)), ("Lithuania", ("Vilnius",)),
    ("Albania", ("Tirana", "Tirane", "Tiranë")), ("Turkey", ("Ankara",)), ("Cyprus", ("Nicosia",)),
    ("Egypt", ("Cairo",)), ("Morocco", ("Rabat",)), ("Algeria", ("Algiers",)), ("Tunisia", ("Tunis",)),
    ("Kenya", ("Nairobi",)), ("Ethiopia", ("Addis Ababa",)), ("Nigeria", ("Abuja",)), ("Ghana", ("Accra",)),
    ("Senegal", ("Dakar",)), ("Uganda", ("Kampala",)), ("Rwanda", ("Kigali",)), ("Zimbabwe", ("Harare",)),
    ("Angola", ("Luanda",)), ("Mozambique", ("Maputo",)), ("the Democratic Republic of the Congo", ("Kinshasa",)),
    ("Namibia", ("Windhoek",)), ("Botswana", ("Gaborone",)), ("China", ("Beijing", "Peking")),
    ("Japan", ("Tokyo",)), ("South Korea", ("Seoul",)), ("North Korea", ("Pyongyang",)),
    ("India", ("New Delhi", "Delhi")), ("Pakistan", ("Islamabad",)), ("Bangladesh", ("Dhaka", "Dacca")),
    ("Nepal", ("Kathmandu",)), ("Afghanistan", ("Kabul",)), ("Iran", ("Tehran", "Teheran")),
    ("Iraq", ("Baghdad",)), ("Saudi Arabia", ("Riyadh",)), ("Jordan", ("Amman",)), ("Lebanon", ("Beirut",)),
    ("Syria", ("Damascus",)), ("Thailand", ("Bangkok",)), ("Vietnam", ("Hanoi", "Ha Noi", "Hà Nội")),
    ("the Philippines", ("Manila",)), ("Mongolia", ("Ulaanbaatar", "Ulan Bator")),
    ("Cambodia", ("Phnom Penh",)), ("Qatar", ("Doha",)), ("the United Arab Emirates", ("Abu Dhabi",)),
    ("Uzbekistan", ("Tashkent", "Toshkent")), ("Armenia", ("Yerevan",)), ("Azerbaijan", ("Baku",)),
    ("the United States", ("Washington",)), ("Canada", ("Ottawa",)), ("Mexico", ("Mexico City",)),
    ("Cuba", ("Havana", "Habana")), ("Jamaica", ("Kingston",)), ("Costa Rica", ("San Jose", "San José")),
    ("Colombia", ("Bogota", "Bogotá")), ("Venezuela", ("Caracas",)), ("Ecuador", ("Quito",)), ("Peru", ("Lima",)),
    ("Chile", ("Santiago",)), ("Argentina", ("Buenos Aires",)), ("Uruguay", ("Montevideo",)),
    ("Paraguay", ("Asuncion", "Asunción")), ("Brazil", ("Brasilia", "Brasília")), ("Australia", ("Canberra",)),
    ("New Zealand", ("Wellington",)),
]

# (element name, symbol). Iodine (I), beryllium (Be) and similar are left out: their symbols are common words.
_ELEMENTS: list[tuple[str, str]] = [
    ("hydrogen", "H"), ("helium", "He"), ("lithium", "Li"), ("boron", "B"), ("carbon", "C"), ("nitrogen", "N"),
    ("oxygen", "O"), ("fluorine", "F"), ("neon", "Ne"), ("sodium", "Na"), ("magnesium", "Mg"),
    ("aluminium", "Al"), ("silicon", "Si"), ("phosphorus", "P"), ("sulfur", "S"), ("chlorine", "Cl"),
    ("argon", "Ar"), ("potassium", "K"), ("calcium", "Ca"), ("titanium", "Ti"), ("chromium", "Cr"),
    ("manganese", "Mn"), ("iron", "Fe"), ("cobalt", "Co"), ("nickel", "Ni"), ("copper", "Cu"), ("zinc", "Zn"),
    ("bromine", "Br"), ("krypton", "Kr"), ("silver", "Ag"), ("tin", "Sn"), ("xenon", "Xe"), ("barium", "Ba"),
    ("tungsten", "W"), ("platinum", "Pt"), ("gold", "Au"), ("mercury", "Hg"), ("lead", "Pb"), ("radon", "Rn"),
    ("uranium", "U"), ("plutonium", "Pu"),
]

# (work as it appears in the question, accepted answers: surnames, so full names match too)
_AUTHORS: list[tuple[str, tuple[str, ...]]] = [
    ("the play Hamlet", ("Shakespeare",)),
    ("the novel Pride and Prejudice", ("Austen",)), ("the novel Nineteen Eighty-Four", ("Orwell",)),
    ("the novel War and Peace", ("Tolstoy", "Tolstoi")),
    ("the novel Crime and Punishment", ("Dostoevsky", "Dostoyevsky", "Dostoevski", "Dostoyevski")),
    ("the novel The Great Gatsby", ("Fitzgerald",)), ("the novel Moby-Dick", ("Melville",)),
    ("the novel Don Quixote", ("Cervantes",)), ("the Odyssey", ("Homer",)),
    ("Adventures of Huckleberry Finn", ("Twain", "Clemens")), ("the novel Oliver Twist", ("Dickens",)),
    ("the novel Jane Eyre", ("Bronte", "Brontë")),
    ("the novel Frankenstein", ("Shelley",)), ("the novel Dracula", ("Stoker",)),
    ("The Hobbit", ("Tolkien",)), ("the Harry Potter books", ("Rowling",)),
    ("the novel To Kill a Mockingbird", ("Lee",)), ("the novel The Catcher in the Rye", ("Salinger",)),
    ("the novel Brave New World", ("Huxley",)), ("The Old Man and the Sea", ("Hemingway",)),
    ("the novel The Grapes of Wrath", ("Steinbeck",)),
    ("One Hundred Years of Solitude", ("Marquez", "Márquez")), ("the Divine Comedy", ("Dante", "Alighieri")),
    ("the novel Les Miserables", ("Hugo",)), ("the novel The Count of Monte Cristo", ("Dumas",)),
    ("the novel Ulysses", ("Joyce",)), ("the novella The Metamorphosis", ("Kafka",)),
    ("Alice's Adventures in Wonderland", ("Carroll", "Dodgson")),
    ("the Sherlock Holmes stories", ("Doyle",)), ("the novel Treasure Island", ("Stevenson",)),
    ("the novel The Picture of Dorian Gray", ("Wilde",)), ("the novel Madame Bovary", ("Flaubert",)),
    ("the novel Robinson Crusoe", ("Defoe",)), ("Gulliver's Travels", ("Swift",)),
    ("the novel Things Fall Apart", ("Achebe",)), ("the novel The Time Machine", ("Wells",)),
]

_FACTS: list[tuple[str, tuple[str, ...]]] = [
    ("How many days are in a week?", ("7", "seven")), ("How many legs does a spider have?", ("8", "eight")),
    ("How many legs does an insect have?", ("6", "six")),
    ("How many hours are in a day?", ("24", "twenty-four", "twenty four")),
    ("How many minutes are in an hour?", ("60", "sixty")), ("How many months are in a year?", ("12", "twelve")),
    ("How many days are in a leap year?", ("366",)), ("How many sides does a triangle have?", ("3", "three")),
    ("How many sides does a hexagon have?", ("6", "six")), ("How many sides does an octagon have?", ("8", "eight")),
    ("How many wheels does a bicycle have?", ("2", "two")),
    ("How many strings does a standard guitar have?", ("6", "six")),
    ("How many players does a soccer team have on the field at once?", ("11", "eleven")),
    ("How many degrees are in a right angle?", ("90", "ninety")),
    ("How many degrees are in a full circle?", ("360",)),
    ("How many planets are in the solar system?", ("8", "eight")),
    ("What is the square root of 81?", ("9", "nine")), ("What is the smallest prime number?", ("2", "two")),
    ("What is the freezing point of water in degrees Celsius?", ("0", "zero")),
    ("What is the boiling point of water at sea level in degrees Celsius?", ("100", "one hundred", "hundred")),
    ("What is the freezing point of water in degrees Fahrenheit?", ("32", "thirty-two", "thirty two")),
    ("What is the largest planet in the solar system?", ("Jupiter",)),
    ("Which planet is closest to the Sun?", ("Mercury",)), ("Which planet is known as the Red Planet?", ("Mars",)),
    ("Which planet is famous for its large rings?", ("Saturn",)), ("What is the name of our galaxy?", ("Milky Way",)),
    ("What gas do plants absorb from the air for photosynthesis?", ("carbon dioxide", "CO2")),
    ("Which gas makes up most of Earth's atmosphere?", ("nitrogen",)),
    ("What is the chemical formula for water?", ("H2O",)), ("What is frozen water called?", ("ice",)),
    ("Which metal is liquid at room temperature?", ("mercury",)),
    ("What is the hardest natural substance?", ("diamond", "diamonds")),
    ("What is the center of an atom called?", ("nucleus",)),
    ("What force pulls objects toward the Earth?", ("gravity", "gravitation")),
    ("What is the largest ocean on Earth?", ("Pacific",)), ("What is the largest continent?", ("Asia",)),
    ("What is the longest river in Africa?", ("Nile",)), ("What is the largest hot desert in the world?", ("Sahara",)),
    ("What is the highest mountain above sea level?", ("Everest",)),
    ("What is the largest country by area?", ("Russia",)), ("On which continent is Kenya?", ("Africa",)),
    ("On which continent is Argentina?", ("South America",)),
    ("In which country are the pyramids of Giza?", ("Egypt",)),
    ("In which city is the Eiffel Tower?", ("Paris",)), ("What language is mainly spoken in Brazil?", ("Portuguese",)),
    ("What language is mainly spoken in Mexico?", ("Spanish",)),
    ("What language is mainly spoken in Germany?", ("German",)), ("What is the currency of Japan?", ("yen",)),
    ("What is the currency of the United States?", ("dollar", "dollars")),
    ("Which organ pumps blood through the human body?", ("heart",)),
    ("What is the largest organ of the human body?", ("skin",)), ("What is the largest mammal?", ("blue whale",)),
    ("What is the fastest land animal?", ("cheetah",)), ("What do bees make?", ("honey",)),
    ("What do giant pandas mainly eat?", ("bamboo",)),
    ("What color do you get by mixing blue and yellow?", ("green",)),
    ("What is the main ingredient of guacamole?", ("avocado", "avocados")),
    ("Which musical instrument has 88 keys?", ("piano",)),
    ("Who painted the Mona Lisa?", ("Leonardo", "da Vinci")), ("Who painted The Starry Night?", ("van Gogh", "Gogh")),
    ("Who composed the Moonlight Sonata?", ("Beethoven",)),
    ("Who developed the theory of relativity?", ("Einstein",)),
    ("Who formulated the three laws of motion?", ("Newton",)),
    ("Who discovered penicillin?", ("Fleming",)), ("Who was the first person to walk on the Moon?", ("Armstrong",)),
    ("Who proposed the theory of evolution by natural selection?", ("Darwin", "Wallace")),
]

# (countries, accepted answers). Only countries whose continent is not in dispute; Kenya and Argentina are in _FACTS.
_CONTINENTS: list[tuple[tuple[str, ...], tuple[str, ...]]] = [
    (("France", "Germany", "Italy", "Spain", "Portugal", "Poland", "Sweden", "Norway", "Finland", "the Netherlands",
      "Austria", "Hungary", "Ireland", "Denmark", "Greece"), ("Europe",)),
    (("China", "Japan", "India", "Thailand", "Vietnam", "Mongolia", "Nepal", "South Korea", "Bangladesh", "Pakistan",
      "Saudi Arabia", "Iran", "the Philippines", "Cambodia", "Sri Lanka"), ("Asia",)),
    (("Nigeria", "Ghana", "Ethiopia", "Morocco", "Senegal", "Uganda", "Tanzania", "South Africa", "Namibia",
      "Botswana", "Zambia", "Mali", "Angola", "Madagascar", "Cameroon"), ("Africa",)),
    (("the United States", "Canada", "Mexico", "Cuba", "Guatemala"), ("North America",)),
    (("Brazil", "Chile", "Peru", "Colombia", "Venezuela", "Ecuador", "Bolivia", "Uruguay", "Paraguay"),
     ("South America",)),
    (("Australia", "New Zealand", "Fiji"), ("Oceania", "Australia")),
]

# (country, accepted answers). Only countries with one clearly main language; Brazil, Mexico, Germany are in _FACTS.
_LANGUAGES: list[tuple[str, tuple[str, ...]]] = [
    ("France", ("French",)), ("Italy", ("Italian",)), ("Spain", ("Spanish", "Castilian")),
    ("Portugal", ("Portuguese",)), ("Japan", ("Japanese",)), ("China", ("Chinese", "Mandarin")),
    ("South Korea", ("Korean",)), ("Russia", ("Russian",)), ("Poland", ("Polish",)), ("Greece", ("Greek",)),
    ("Sweden", ("Swedish",)), ("Norway", ("Norwegian",)), ("Denmark", ("Danish",)), ("Finland", ("Finnish",)),
    ("the Netherlands", ("Dutch",)), ("Hungary", ("Hungarian", "Magyar")), ("the Czech Republic", ("Czech",)),
    ("Romania", ("Romanian",)), ("Turkey", ("Turkish",)), ("Iran", ("Persian", "Farsi")), ("Thailand", ("Thai",)),
    ("Vietnam", ("Vietnamese",)), ("Argentina", ("Spanish",)), ("Colombia", ("Spanish",)), ("Chile", ("Spanish",)),
    ("Cuba", ("Spanish",)), ("Austria", ("German",)), ("Egypt", ("Arabic",)), ("Saudi Arabia", ("Arabic",)),
    ("Jordan", ("Arabic",)), ("Australia", ("English",)), ("the United States", ("English",)),
    ("the United Kingdom", ("English",)), ("Bulgaria", ("Bulgarian",)), ("Iceland", ("Icelandic",)),
    ("Bangladesh", ("Bengali", "Bangla")), ("Mongolia", ("Mongolian",)),
]

_EURO = ("euro", "euros")
_DOLLAR = ("dollar", "dollars")
_PESO = ("peso", "pesos")

# (country, accepted answers). Long-settled currencies only; Japan and the United States are in _FACTS.
_CURRENCIES: list[tuple[str, tuple[str, ...]]] = [
    ("the United Kingdom", ("pound", "pounds", "sterling")), ("Switzerland", ("franc", "francs")),
    ("India", ("rupee", "rupees")), ("China", ("yuan", "renminbi", "RMB")),
    ("Russia", ("ruble", "rubles", "rouble", "roubles")), ("Mexico", _PESO), ("Brazil", ("real", "reais")),
    ("South Africa", ("rand", "rands")), ("Germany", _EURO), ("France", _EURO),
    ("Italy", _EURO), ("Spain", _EURO), ("Ireland", _EURO), ("Greece", _EURO), ("the Netherlands", _EURO),
    ("Canada", _DOLLAR), ("Australia", _DOLLAR), ("New Zealand", _DOLLAR), ("Singapore", _DOLLAR),
    ("Sweden", ("krona", "kronor")), ("Norway", ("krone", "kroner")), ("Denmark", ("krone", "kroner")),
    ("Poland", ("zloty", "zlotys", "złoty", "złotys")), ("Thailand", ("baht",)),
    ("Israel", ("shekel", "shekels", "sheqel")), ("Saudi Arabia", ("riyal", "riyals")), ("the Philippines", _PESO),
    ("Egypt", ("pound", "pounds")), ("Chile", _PESO), ("Pakistan", ("rupee", "rupees")),
    ("Vietnam", ("dong", "đồng")), ("Malaysia", ("ringgit",)), ("Hungary", ("forint", "forints")),
    ("the Czech Republic", ("koruna", "korunas", "crown", "crowns")), ("Kenya", ("shilling", "shillings")),
    ("Nigeria", ("naira",)),
]

# Animal facts not already in _FACTS (insect and spider legs, largest mammal, fastest land animal, bees, pandas).
_ANIMALS: list[tuple[str, tuple[str, ...]]] = [
    ("What is a baby cat called?", ("kitten", "kittens")), ("What is a baby dog called?", ("puppy", "pup", "puppies")),
    ("What is a baby cow called?", ("calf",)), ("What is a baby sheep called?", ("lamb",)),
    ("What is a baby horse called?", ("foal", "colt", "filly")), ("What is a baby goat called?", ("kid", "kids")),
    ("What is a baby frog called?", ("tadpole", "tadpoles", "froglet")),
    ("What is a baby kangaroo called?", ("joey",)), ("What is a baby bear called?", ("cub", "cubs")),
    ("What is a baby duck called?", ("duckling", "ducklings")), ("What is a baby pig called?", ("piglet", "piglets")),
    ("What is a baby swan called?", ("cygnet", "cygnets")), ("What is a baby deer called?", ("fawn",)),
    ("What is a baby goose called?", ("gosling", "goslings")), ("What is a baby chicken called?", ("chick", "chicks")),
    ("What is a group of wolves called?", ("pack",)), ("What is a group of lions called?", ("pride",)),
    ("How many arms does an octopus have?", ("8", "eight")), ("How many hearts does an octopus have?", ("3", "three")),
    ("What is the tallest animal?", ("giraffe",)), ("What is the largest bird?", ("ostrich",)),
    ("What is the largest land animal?", ("elephant",)),
    ("What does a caterpillar turn into?", ("butterfly", "butterflies", "moth", "moths")),
    ("What is a male chicken called?", ("rooster", "cock", "cockerel")), ("What is a female sheep called?", ("ewe",)),
    ("What is a male cow called?", ("bull",)), ("What is the only mammal capable of true flight?", ("bat", "bats")),
    ("How many humps does a dromedary camel have?", ("1", "one")),
    ("Which animal is known as the ship of the desert?", ("camel",)),
    ("What is the largest species of shark?", ("whale shark",)),
    ("What is the largest living species of lizard?", ("Komodo",)), ("What kind of animal is a Dalmatian?", ("dog",)),
]

# Science facts not already in _FACTS (water, planets, hardest substance, gravity, atmosphere and the like).
_SCIENCE: list[tuple[str, tuple[str, ...]]] = [
    ("What gas do humans need to breathe to survive?", ("oxygen",)),
    ("What is the chemical formula for table salt?", ("NaCl",)),
    ("What is the chemical formula for carbon dioxide?", ("CO2", "CO₂")),
    ("What is the name of Earth's natural satellite?", ("Moon",)),
    ("Which planet is farthest from the Sun?", ("Neptune",)),
    ("What is the smallest planet in the solar system?", ("Mercury",)),
    ("What is the hottest planet in the solar system?", ("Venus",)),
    ("Which planet is third from the Sun?", ("Earth",)),
    ("What is the SI unit of electrical resistance?", ("ohm", "ohms")),
    ("What is the SI unit of force?", ("newton", "newtons")),
    ("What is the SI unit of electric current?", ("ampere", "amperes", "amp", "amps")),
    ("What is the SI unit of power?", ("watt", "watts")), ("What is the SI unit of energy?", ("joule", "joules")),
    ("What is the SI unit of frequency?", ("hertz", "Hz")),
    ("What is the SI base unit of mass?", ("kilogram", "kilograms", "kg")),
    ("What is the SI base unit of temperature?", ("kelvin",)),
    ("Which subatomic particle has a negative charge?", ("electron", "electrons")),
    ("Which subatomic particle has a positive charge?", ("proton", "protons")),
    ("Which particle in the atomic nucleus has no electric charge?", ("neutron", "neutrons")),
    ("Which part of the cell is known as its powerhouse?", ("mitochondria", "mitochondrion")),
    ("What pigment makes plants green?", ("chlorophyll",)),
    ("What process do plants use to make food from sunlight?", ("photosynthesis",)),
    ("What is the pH of pure water at 25 degrees Celsius?", ("7", "seven")),
    ("How many bones are in the adult human body?", ("206",)),
    ("What is the longest bone in the human body?", ("femur",)),
    ("How many chambers does the human heart have?", ("4", "four")),
    ("What instrument measures temperature?", ("thermometer",)),
    ("What instrument measures air pressure?", ("barometer",)),
    ("What are animals that eat only plants called?", ("herbivore", "herbivores")),
    ("What is the path of a planet around the Sun called?", ("orbit",)),
]

QUESTIONS: list[tuple[str, str, tuple[str, ...]]] = (
    [("capital", f"What is the capital of {country}?", answers) for country, answers in _CAPITALS]
    + [("element", f"What is the chemical symbol for {name}?", (symbol,)) for name, symbol in _ELEMENTS]
    + [("author", f"Who wrote {work}?", answers) for work, answers in _AUTHORS]
    + [("fact", question, answers) for question, answers in _FACTS]
    + [("continent", f"On which continent is {country}?", answers)
       for countries, answers in _CONTINENTS for country in countries]
    + [("language", f"What is the main language spoken in {country}?", answers) for country, answers in _LANGUAGES]
    + [("currency", f"What is the currency of {country}?", answers) for country, answers in _CURRENCIES]
    + [("animal", question, answers) for question, answers in _ANIMALS]
    + [("science", question, answers) for question, answers in _SCIENCE]
)
