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

QUESTIONS: list[tuple[str, str, tuple[str, ...]]] = (
    [("capital", f"What is the capital of {country}?", answers) for country, answers in _CAPITALS]
    + [("element", f"What is the chemical symbol for {name}?", (symbol,)) for name, symbol in _ELEMENTS]
    + [("author", f"Who wrote {work}?", answers) for work, answers in _AUTHORS]
    + [("fact", question, answers) for question, answers in _FACTS]
)
