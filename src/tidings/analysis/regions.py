"""Regions an article is about: countries of the world, and the United States for any of its states.

Every article is also filed under the regions it is about. Names, aliases, demonyms, capitals, big cities,
seats of government and a few leaders are matched case-sensitively as whole token sequences (longest match
wins, so "New Mexico" is a US state and never Mexico); ambiguous words ("Jordan", "Chad", "Turkey",
"Georgia") need support from elsewhere in the article. Each region gets a salience from what the article is
about: the dateline ("KABUL (Reuters) -"), the headline's subject, and the body's balance; a noun adjunct in the
headline ("Russia probe") or a person's nationality ("Mexican president") counts little, and a passing mention
makes no section.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cache

US = "United States"
HOME_REGION = US  # the readers' own country: its news with foreign parts stays home news (see _home_first)
_GEORGIA = "Georgia"


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


# --- tables ------------------------------------------------------------------------------------------------
# One line per section: "Section = alias; alias; ...". An alias may carry flags in braces and a weight after
# "@": w = weak (counts only with support: another cue for the region, or a preposition such as "in" before
# it), p / n = not when the previous / next word is another capitalised name ("Michael Jordan", "Chad Smith"),
# c = an all-capitals token that must not sit among other all-capitals words ("US" but not "TELL US MORE").

# pycountry names that are not what English-language news calls the country.
_SECTION_NAMES: dict[str, str] = {
    "BN": "Brunei", "CD": "DR Congo", "CG": "Republic of the Congo", "CI": "Ivory Coast",
    "CV": "Cape Verde", "CZ": "Czech Republic", "FK": "Falkland Islands", "FM": "Micronesia", "MO": "Macau",
    "PS": "Palestine", "RU": "Russia", "TR": "Turkey", "VA": "Vatican City", "VG": "British Virgin Islands",
    "MF": "Saint Martin", "SX": "Sint Maarten", "SH": "Saint Helena", "BQ": "Caribbean Netherlands",
    "CC": "Cocos Islands", "ST": "São Tomé and Príncipe", "KR": "South Korea", "KP": "North Korea",
}
# The US, its territories, and uninhabited places that get no section of their own.
_US_CODES = frozenset({"US", "PR", "GU", "AS", "VI", "MP", "UM"})
_NO_SECTION = frozenset({"AQ", "BV", "HM", "TF", "GS", "IO"})
_EXTRA_SECTIONS = ("Kosovo",)  # not (yet) an ISO 3166 country

_NAMES = """
United States = United States; United States of America; U.S; U.S.A.; USA; US{c}; America; Stateside
United Kingdom = UK; U.K; Britain; Great Britain; England; Scotland; Wales; Northern Ireland; United Kingdom
South Korea = South Korea; Republic of Korea; Korea@0.7
North Korea = North Korea; DPRK
Russia = Russia; Russian Federation
Iran = Iran; Islamic Republic of Iran
Syria = Syria
Vietnam = Vietnam; Viet Nam
Taiwan = Taiwan; Republic of China
China = China; People's Republic of China; PRC; Mainland China; Tibet; Xinjiang
Czech Republic = Czech Republic; Czechia
Ivory Coast = Ivory Coast; Côte d'Ivoire
DR Congo = Democratic Republic of the Congo; Democratic Republic of Congo; DR Congo; DRC; Congo-Kinshasa
DR Congo = Congo; Zaire
Republic of the Congo = Republic of the Congo; Republic of Congo; Congo-Brazzaville
Netherlands = Netherlands; the Netherlands; Holland{p}
Turkey = Turkey{wn}; Türkiye
Jordan = Jordan{wpn}
Chad = Chad{wpn}
Jersey = Jersey{wpn}
Guernsey = Guernsey{w}
Myanmar = Myanmar; Burma
Eswatini = Eswatini; Swaziland
North Macedonia = North Macedonia; Macedonia
Cape Verde = Cape Verde; Cabo Verde
Timor-Leste = Timor-Leste; East Timor
Vatican City = Vatican City; Vatican; Holy See
United Arab Emirates = United Arab Emirates; UAE; U.A.E.
Palestine = Palestine; Palestinian territories; Gaza; Gaza Strip; West Bank
Bosnia and Herzegovina = Bosnia and Herzegovina; Bosnia
Trinidad and Tobago = Trinidad and Tobago; Trinidad
Laos = Laos
Brunei = Brunei
Moldova = Moldova
Bolivia = Bolivia
Venezuela = Venezuela
Tanzania = Tanzania
Macau = Macau; Macao
Falkland Islands = Falkland Islands; Falklands
Ireland = Ireland; Republic of Ireland; Irish Republic
Gambia = Gambia; The Gambia
Bahamas = Bahamas; The Bahamas
Kosovo = Kosovo
Ukraine = Ukraine; Crimea; Donbas; Donetsk; Luhansk
Saudi Arabia = Saudi Arabia; KSA
"""

_DEMONYMS = """
Afghanistan = Afghan
Albania = Albanian
Algeria = Algerian
Angola = Angolan
Argentina = Argentine; Argentinian
Armenia = Armenian
Australia = Australian; Aussie
Austria = Austrian
Azerbaijan = Azerbaijani; Azeri
Bahamas = Bahamian
Bahrain = Bahraini
Bangladesh = Bangladeshi
Barbados = Barbadian
Belarus = Belarusian
Belgium = Belgian
Belize = Belizean
Benin = Beninese
Bhutan = Bhutanese
Bolivia = Bolivian
Bosnia and Herzegovina = Bosnian
Botswana = Botswanan
Brazil = Brazilian
Brunei = Bruneian
Bulgaria = Bulgarian
Burkina Faso = Burkinabe
Burundi = Burundian
Cambodia = Cambodian
Cameroon = Cameroonian
Canada = Canadian
Cape Verde = Cape Verdean
Chad = Chadian
Chile = Chilean
China = Chinese
Colombia = Colombian
DR Congo = Congolese
Costa Rica = Costa Rican
Croatia = Croatian; Croat
Cuba = Cuban
Cyprus = Cypriot
Czech Republic = Czech
Denmark = Danish; Dane
Djibouti = Djiboutian
Dominican Republic = Dominican
Ecuador = Ecuadorian
Egypt = Egyptian
El Salvador = Salvadoran; Salvadorean
Equatorial Guinea = Equatorial Guinean
Eritrea = Eritrean
Estonia = Estonian
Eswatini = Swazi
Ethiopia = Ethiopian
Fiji = Fijian
Finland = Finnish; Finn
France = French; Frenchman; Frenchwoman; Frenchmen; Frenchwomen
Gabon = Gabonese
Gambia = Gambian
Germany = German
Ghana = Ghanaian
Greece = Greek
Guatemala = Guatemalan
Guinea = Guinean
Guyana = Guyanese
Haiti = Haitian
Honduras = Honduran
Hungary = Hungarian
Iceland = Icelandic; Icelander
India = Indian
Indonesia = Indonesian
Iran = Iranian
Iraq = Iraqi
Ireland = Irish
Israel = Israeli
Italy = Italian
Ivory Coast = Ivorian
Jamaica = Jamaican
Japan = Japanese
Jordan = Jordanian
Kazakhstan = Kazakh; Kazakhstani
Kenya = Kenyan
Kosovo = Kosovar
Kuwait = Kuwaiti
Kyrgyzstan = Kyrgyz
Laos = Laotian
Latvia = Latvian
Lebanon = Lebanese
Liberia = Liberian
Libya = Libyan
Lithuania = Lithuanian
Luxembourg = Luxembourgish
Madagascar = Malagasy
Malawi = Malawian
Malaysia = Malaysian
Maldives = Maldivian
Mali = Malian
Malta = Maltese
Mauritania = Mauritanian
Mauritius = Mauritian
Mexico = Mexican
Moldova = Moldovan
Mongolia = Mongolian
Montenegro = Montenegrin
Morocco = Moroccan
Mozambique = Mozambican
Myanmar = Burmese
Namibia = Namibian
Nepal = Nepali; Nepalese
Netherlands = Dutch; Dutchman
New Zealand = New Zealander
Nicaragua = Nicaraguan
Niger = Nigerien
Nigeria = Nigerian
North Korea = North Korean
North Macedonia = Macedonian
Norway = Norwegian
Oman = Omani
Pakistan = Pakistani
Palestine = Palestinian
Panama = Panamanian
Papua New Guinea = Papua New Guinean
Paraguay = Paraguayan
Peru = Peruvian
Philippines = Filipino; Filipina
Poland = Polish
Portugal = Portuguese{w}
Qatar = Qatari
Romania = Romanian
Russia = Russian
Rwanda = Rwandan
Saudi Arabia = Saudi
Senegal = Senegalese
Serbia = Serbian; Serb
Sierra Leone = Sierra Leonean
Singapore = Singaporean
Slovakia = Slovak; Slovakian
Slovenia = Slovenian; Slovene
Somalia = Somali
South Africa = South African
South Korea = South Korean
South Sudan = South Sudanese
Spain = Spanish{w}; Spaniard
Sri Lanka = Sri Lankan
Sudan = Sudanese
Suriname = Surinamese
Sweden = Swedish; Swede
Switzerland = Swiss
Syria = Syrian
Taiwan = Taiwanese
Tajikistan = Tajik
Tanzania = Tanzanian
Thailand = Thai
Togo = Togolese
Trinidad and Tobago = Trinidadian
Tunisia = Tunisian
Turkey = Turkish; Turk
Turkmenistan = Turkmen
Uganda = Ugandan
Ukraine = Ukrainian
United Arab Emirates = Emirati
United Kingdom = British; Briton; Brit; Scottish; Scot; Northern Irish
United States = American
Uruguay = Uruguayan
Uzbekistan = Uzbek
Venezuela = Venezuelan
Vietnam = Vietnamese
Yemen = Yemeni
Zambia = Zambian
Zimbabwe = Zimbabwean
"""

# Capitals, seats of government used as metonyms, and big cities that name one country only.
_PLACES = """
United States = White House; Pentagon; Capitol Hill; Capitol; Congress; Oval Office; State Department
United States = Justice Department; Department of Justice; Homeland Security; Federal Reserve; Wall Street
United States = Silicon Valley; GOP; FBI; CIA; Washington{p}
United States = Republican National Committee; Democratic National Committee; RNC; DNC; Senate{w}@0.8
United States = House of Representatives; House Republicans; House Democrats; Senate Republicans
United States = Senate Democrats; Republicans@0.6; Democrats@0.6; Republican@0.5; Democrat@0.5
United States = Supreme Court Justice; Speaker of the House; House Speaker; Electoral College; Medicare
United States = Medicaid; Obamacare; Affordable Care Act; Second Amendment; First Amendment; Beltway
Russia = Moscow; Kremlin; Duma; Chechnya; Siberia
Ukraine = Kyiv; Kiev; Kharkiv; Odesa; Mariupol; Zaporizhzhia; Lviv
China = Beijing; Shanghai; Wuhan; Shenzhen; Guangzhou; Zhongnanhai
United Kingdom = London; Downing Street; Whitehall; Westminster; Buckingham Palace; Edinburgh; Glasgow
United Kingdom = Cardiff; Belfast; Liverpool
France = Paris; Élysée; Marseille; Lyon
Germany = Berlin; Bundestag; Munich; Frankfurt
Italy = Rome; Milan
Spain = Madrid; Barcelona; Catalonia
Portugal = Lisbon
Netherlands = Amsterdam; The Hague
Belgium = Brussels@0.5
Switzerland = Bern; Zurich
Austria = Vienna
Poland = Warsaw
Czech Republic = Prague
Hungary = Budapest
Slovakia = Bratislava
Slovenia = Ljubljana
Croatia = Zagreb
Serbia = Belgrade
Bosnia and Herzegovina = Sarajevo
Montenegro = Podgorica
North Macedonia = Skopje
Albania = Tirana
Kosovo = Pristina
Bulgaria = Sofia{pn}
Romania = Bucharest
Moldova = Chisinau; Chișinău
Belarus = Minsk
Lithuania = Vilnius
Latvia = Riga
Estonia = Tallinn
Finland = Helsinki
Sweden = Stockholm
Norway = Oslo
Denmark = Copenhagen
Iceland = Reykjavik
Ireland = Dublin
Greece = Athens
Cyprus = Nicosia
Turkey = Ankara; Istanbul
Georgia = Tbilisi; Abkhazia; South Ossetia
Armenia = Yerevan
Azerbaijan = Baku
Iran = Tehran
Iraq = Baghdad; Mosul; Basra; Erbil
Syria = Damascus; Aleppo; Idlib
Lebanon = Beirut
Jordan = Amman
Israel = Jerusalem; Tel Aviv; Knesset; IDF
Palestine = Ramallah
Saudi Arabia = Riyadh; Jeddah; Mecca
Qatar = Doha
Bahrain = Manama
Oman = Muscat
Yemen = Sanaa; Sana'a; Aden; Houthi; Houthis
United Arab Emirates = Abu Dhabi; Dubai
Kuwait = Kuwait City
Egypt = Cairo
Libya = Tripoli; Benghazi
Tunisia = Tunis
Algeria = Algiers
Morocco = Rabat; Casablanca
Sudan = Khartoum; Darfur
South Sudan = Juba
Ethiopia = Addis Ababa
Eritrea = Asmara
Somalia = Mogadishu
Kenya = Nairobi
Uganda = Kampala
Rwanda = Kigali
Burundi = Bujumbura
Tanzania = Dodoma; Dar es Salaam
Zambia = Lusaka
Zimbabwe = Harare
Malawi = Lilongwe
Mozambique = Maputo
Botswana = Gaborone
Namibia = Windhoek
South Africa = Pretoria; Johannesburg; Cape Town; Durban
Madagascar = Antananarivo
Angola = Luanda
DR Congo = Kinshasa
Republic of the Congo = Brazzaville
Gabon = Libreville
Cameroon = Yaoundé
Central African Republic = Bangui
Chad = N'Djamena
Nigeria = Abuja; Lagos; Niger Delta
Niger = Niamey
Burkina Faso = Ouagadougou
Mali = Bamako
Mauritania = Nouakchott
Senegal = Dakar
Guinea = Conakry
Sierra Leone = Freetown
Liberia = Monrovia
Ivory Coast = Abidjan; Yamoussoukro
Ghana = Accra
Togo = Lomé
Benin = Cotonou; Porto-Novo
Afghanistan = Kabul; Kandahar; Helmand; Taliban@0.7
Pakistan = Islamabad; Karachi; Lahore
India = New Delhi; Delhi; Mumbai; Bengaluru; Bangalore; Kolkata; Chennai; Lok Sabha
Nepal = Kathmandu
Bangladesh = Dhaka
Sri Lanka = Colombo
Myanmar = Naypyidaw; Yangon; Rangoon
Thailand = Bangkok
Laos = Vientiane
Cambodia = Phnom Penh
Vietnam = Hanoi; Ho Chi Minh City; Saigon
Malaysia = Kuala Lumpur
Indonesia = Jakarta; Bali
Philippines = Manila
Timor-Leste = Dili
Taiwan = Taipei
South Korea = Seoul
North Korea = Pyongyang
Japan = Tokyo; Osaka; Kyoto; Okinawa; Fukushima
Mongolia = Ulaanbaatar
Kazakhstan = Astana; Almaty
Uzbekistan = Tashkent
Kyrgyzstan = Bishkek
Tajikistan = Dushanbe
Turkmenistan = Ashgabat
Australia = Canberra; Sydney{n}; Melbourne; Brisbane; Queensland; New South Wales; Tasmania
New Zealand = Wellington{pn}; Auckland
Papua New Guinea = Port Moresby; New Guinea
Canada = Ottawa; Toronto; Montreal; Quebec; Ontario; British Columbia; Alberta{pn}
Mexico = Mexico City; Guadalajara; Tijuana
Guatemala = Guatemala City
Honduras = Tegucigalpa
El Salvador = San Salvador
Nicaragua = Managua
Panama = Panama City
Cuba = Havana
Haiti = Port-au-Prince
Dominican Republic = Santo Domingo
Jamaica = Kingston{w}
Colombia = Bogotá
Venezuela = Caracas
Ecuador = Quito
Peru = Lima{p}
Bolivia = La Paz
Chile = Santiago{pn}
Argentina = Buenos Aires
Uruguay = Montevideo
Paraguay = Asunción
Brazil = Brasília; Rio de Janeiro; São Paulo
"""

# Leaders and ministers whose surnames point to one country (weight below a place name).
_FIGURES = """
United States = Trump; Obama; Biden; Pelosi; McConnell; Blinken; Pence; Schumer; Pompeo; Tillerson; Rubio
United States = Kamala Harris; Hillary Clinton; Bill Clinton; Clinton; George W. Bush; John Kerry
United States = Paul Ryan; John Boehner; Harry Reid; Kevin McCarthy; Hakeem Jeffries; Bernie Sanders
United States = Elizabeth Warren; Ted Cruz; John McCain; Mitt Romney; Lindsey Graham; Rand Paul; Ron DeSantis
United States = Gavin Newsom; Andrew Cuomo; Nikki Haley; Jeff Sessions; William Barr; Merrick Garland
United States = Eric Holder; James Comey; Robert Mueller; Jared Kushner; Steve Bannon; Rudy Giuliani
United States = Brett Kavanaugh; Neil Gorsuch; Alexandria Ocasio-Cortez; Joe Manchin; Sarah Palin
United States = Dick Cheney; Al Gore; Newt Gingrich; Condoleezza Rice; Donald Rumsfeld; Janet Yellen
United States = Jerome Powell; Ben Bernanke; Steven Mnuchin; Pete Buttigieg; Anthony Fauci; JD Vance
Russia = Putin; Lavrov; Medvedev
Ukraine = Zelensky; Zelenskyy; Zelenskiy
China = Xi; Xi Jinping; Li Qiang; Li Keqiang; Wang Yi; Hu Jintao
United Kingdom = Starmer; Sunak; Boris Johnson; Theresa May; David Cameron; Liz Truss
France = Macron; Sarkozy; Hollande
Germany = Merkel; Scholz
Israel = Netanyahu
Iran = Khamenei; Rouhani; Raisi; Pezeshkian; Zarif
Turkey = Erdogan; Erdoğan
India = Modi
Japan = Shinzo Abe; Kishida
North Korea = Kim Jong Un; Kim Jong-un; Kim Jong Il
Brazil = Bolsonaro; Lula
Canada = Trudeau
Mexico = López Obrador; Sheinbaum
Syria = Assad
Venezuela = Maduro; Hugo Chávez
Hungary = Orbán
Belarus = Lukashenko
Italy = Meloni; Berlusconi
Philippines = Duterte
"""

# US states (and DC, Puerto Rico): the name, then unambiguous capitals, big cities and AP abbreviations.
_US_STATES = """
Alabama = Alabama; Ala; Montgomery{pn}; Huntsville; Tuscaloosa
Alaska = Alaska; Anchorage; Juneau
Arizona = Arizona; Ariz; Phoenix{p}; Tucson
Arkansas = Arkansas; Little Rock
California = California; Calif; Sacramento; Los Angeles; San Francisco; San Diego; Oakland; Hollywood
California = Silicon Valley
Colorado = Colorado; Colo; Denver{p}
Connecticut = Connecticut; Conn; Hartford
Delaware = Delaware
District of Columbia = District of Columbia; Washington D.C.; Washington, D.C.; D.C.
Florida = Florida; Fla; Tallahassee; Miami; Orlando{n}; Tampa; Jacksonville
Georgia = Atlanta; Savannah
Hawaii = Hawaii; Honolulu
Idaho = Idaho; Boise
Illinois = Illinois; Chicago
Indiana = Indiana{n}; Indianapolis
Iowa = Iowa; Des Moines
Kansas = Kansas; Topeka; Wichita
Kentucky = Kentucky; Louisville
Louisiana = Louisiana; Baton Rouge; New Orleans; French Quarter
Maine = Maine
Maryland = Maryland; Annapolis; Baltimore
Massachusetts = Massachusetts; Boston
Michigan = Michigan; Mich; Detroit
Minnesota = Minnesota; Minn; Minneapolis; St. Paul
Mississippi = Mississippi
Missouri = Missouri; Jefferson City; St. Louis; Kansas City, Missouri
Montana = Montana{p}
Nebraska = Nebraska; Omaha
Nevada = Nevada; Nev; Las Vegas; Reno
New Hampshire = New Hampshire; N.H.
New Jersey = New Jersey; N.J.; Trenton; Newark
New Mexico = New Mexico; N.M.; Albuquerque; Santa Fe
New York = New York; N.Y.; New York City; NYC; Manhattan; Brooklyn{pn}; Queens{w}; Bronx; Albany
North Carolina = North Carolina; N.C.; Raleigh
North Dakota = North Dakota; N.D.
Ohio = Ohio; Cleveland{p}; Cincinnati; Columbus{pn}
Oklahoma = Oklahoma; Okla; Oklahoma City; Tulsa
Oregon = Oregon
Pennsylvania = Pennsylvania; Penn{pn}; Philadelphia; Pittsburgh; Harrisburg
Puerto Rico = Puerto Rico; Puerto Rican; San Juan{w}
Rhode Island = Rhode Island; R.I.
South Carolina = South Carolina; S.C.
South Dakota = South Dakota; S.D.
Tennessee = Tennessee; Tenn; Nashville; Memphis
Texas = Texas; Tex{n}; Houston{p}; Dallas; San Antonio; El Paso
Utah = Utah; Salt Lake City
Vermont = Vermont; Montpelier
Virginia = Virginia; Richmond{w}
Washington = Washington State; Washington state; Seattle; Spokane; Tacoma
West Virginia = West Virginia; W.Va.
Wisconsin = Wisconsin; Wis; Milwaukee
Wyoming = Wyoming; Wyo; Cheyenne{p}
"""

# Phrases that contain a region word but are not about that region ("-") or are about another one.
_PHRASES = """
- = Latin America; South America; Central America; North America; Latin American; South American
- = Central American; North American; Americas; Pan-American; Bank of America; Captain America; Gulf of Mexico
- = Indian Ocean; West Indies; West Indian; East Indies; Persian Gulf; Paris Hilton; Paris Agreement
- = Paris agreement; Paris climate; Paris accord; Paris Accord; German shepherd; German Shepherd; French fries
- = French toast; French Toast; French Fries; Pennsylvania Dutch; Dutch oven; Georgian era
- = Georgian architecture; Georgian-style; Green Chile; Red Chile; Chile Relleno; Chile Rellenos; Chile Pepper
- = Chile Peppers; Hong Kong Phooey; Michael Jordan; Jordan Peterson; Indiana Jones; Virginia Woolf
- = Georgia O'Keeffe; Tennessee Williams; Washington Post; Washington Times; Washington Examiner
- = New York Times; New York Post; Wall Street Journal; Los Angeles Times; Chicago Tribune; Boston Globe
- = USA Today; Miami Herald; Voice of America; World Congress; Mobile World Congress; Party Congress
- = Congress of; Chinese checkers; Turkish delight; Turkish Delight; Swiss cheese; Swiss Army knife
- = Russian roulette; Russian doll; Russian dolls; Spanish flu; English Channel; Korean War; Korean Peninsula
- = Korean peninsula; Social Democrats; Social Democratic; Christian Democrats; Christian Democratic
- = Republican Guard; Republican Guards; Vietnam War; Vietnam war; Vietnam era; Vietnam-era; Vietnam veteran
- = Vietnam veterans; Vietnam vet; Vietnam vets
Sweden = Sweden Democrats
United Kingdom = Liberal Democrats; Democratic Unionist; Democratic Unionist Party
United States = American Indian; American Indians; Indian reservation; Indian reservations; Indian tribe
United States = Indian tribes; Indian Country; Indian Affairs; Indian Health Service; Cleveland Indians
United States = New England; Native American; Native Americans; American Samoa; U.S. Virgin Islands; Guam
United States = Northern Mariana Islands; Washington Monument
India = Indian National Congress; Congress party; Congress Party
South Africa = African National Congress
China = National People's Congress; People's Congress
Canada = British Columbia
Georgia = Georgian Dream
Nigeria = Niger Delta
"""

# Words that show a weak alias names something else (the bird, the shirt), unless the region has support.
_VETO_WORDS: dict[str, frozenset[str]] = {
    "Turkey": _wordset(
        "thanksgiving roast roasted recipe recipes stuffing gravy brine turkeys carve carving oven sandwich "
        "feast bird hunting"
    ),
    "Jersey": _wordset("shirt jerseys uniform retired wore wearing cow cows"),
}
# Words before a weak alias that mark it as a place ("refugees in Jordan").
_LOCATIVE = _wordset(
    "in to from into across near neighbouring neighboring visit visited visiting via toward towards "
    "throughout inside outside of with and between against"
)
# Words before a name that place the news there ("Explosion in Bangkok", "Summit at Camp David").
_PLACED = _wordset("in at near inside outside across throughout")
# Nouns after a name that make it a modifier of an issue rather than the subject ("Russia probe").
_ISSUE_NOUNS = _wordset(
    "probe probes inquiry investigation investigations comments comment remarks remark policy policies deal "
    "deals bill bills aid trip visit summit talks service sanctions strategy hearing hearings scandal question "
    "questions vote votes ties relations relationship plan plans ban tariffs tariff report dossier links "
    "connection connections meddling interference hacking collusion pullout withdrawal troops exit debate "
    "stance rhetoric speech gaffe claims claim envoy ambassador veterans vets memo memos emails e-mails record"
)
# Offices that make a region name describe a person rather than the place of the news.
_OFFICES = _wordset("president prime premier leader king queen ambassador envoy minister chancellor ex-president "
                    "dictator presidents leaders ministers ambassadors")
# Capitalised words that do not make a following or preceding word part of a person's name.
_FUNCTION_WORDS = _wordset(
    "The A An In On At To From Of For By With And But Or As After Before Why How What When Where While If Is "
    "Was Are Will Says Said Does Did Has Have Than That This Into Across Near Like About Over Under Against "
    "Between Both North South East West Northern Southern Eastern Western Central King Queen President Prime "
    "Minister Senator Gov Governor Rep Sen Mr Mrs Ms Dr Monday Tuesday Wednesday Thursday Friday Saturday "
    "Sunday"
)
# Georgia the country vs the US state: cues for each side beyond the word "Georgia" itself.
_GEORGIA_STATE_CUES = frozenset({"Atlanta", "Savannah"})
_GEORGIAN_FORMS = frozenset({"Georgian", "Georgians"})

_WEIGHTS = {"name": 1.0, "demonym": 0.7, "place": 0.9, "figure": 0.8, "state": 1.0, "state_place": 0.9}
_TITLE_SUBJECT = 12.0  # the headline's subject outweighs dozens of body mentions (12 = body log term at ~15)
_TITLE_OTHER = 8.0  # another region the headline names
_TITLE_ADJUNCT = 2.0  # "Russia probe": the body's balance decides
_DATELINE_WEIGHT = 12.0  # where the report was filed from: as strong as the headline's subject
_BODY_WEIGHT = 3.0
_HOME_MARGIN = 1.5  # another country comes before the home one only when it clearly outweighs it (see _home_first)
_MIN_SHARE = 0.3  # a region below this share of the top score is a passing mention, not a section
_BODY_FACTOR = 1.5  # body weight of the plain mention reference
_LEAD_FACTOR = 1.5
_LEAD_WORDS = 60  # always lead
_LEAD_PARAGRAPHS = 2  # the first paragraphs are lead too, within _LEAD_MAX_WORDS
_LEAD_MAX_WORDS = 150
_MAX_TEXT = 200_000  # characters read: salience comes from the title and lead anyway

_TOKEN_RE = re.compile(r"\w+|[^\w\s]")  # words and single punctuation marks: "U.S." is U . S .
_CHAR_FIX = (("’", "'"), ("‘", "'"), ("‐", "-"), ("‑", "-"), ("–", "-"))


@dataclass(frozen=True, slots=True)
class _Entry:
    region: str | None  # None: a phrase that names no region
    weight: float
    kind: str
    weak: bool = False
    guard_prev: bool = False
    guard_next: bool = False
    caps: bool = False
    state: str | None = None  # the US state this names, for us_state_of
    alias: str = ""


@dataclass(slots=True)
class _Mention:
    entry: _Entry
    in_title: bool
    lead: bool
    locative: bool
    region: str | None
    state: str | None
    attributive: bool = False  # a noun adjunct: "Russia probe", "Afghanistan comments", "U.S.-Israel ties"
    placed: bool = False  # after "in", "at", "near": where the news happens
    dateline: bool = False  # "KABUL (Reuters) -", "HARTFORD, Conn. —": where it was reported from
    personal: bool = False  # a person's nationality or office: "Mexican President", "President of Mexico"


@dataclass(slots=True)
class _Matcher:
    first: dict[str, list[tuple[tuple[str, ...], _Entry]]]
    regions: list[str]


# --- building the matcher -----------------------------------------------------------------------------------


def _fix_chars(text: str) -> str:
    for old, new in _CHAR_FIX:  # str.replace is much faster than str.translate on long text
        if old in text:
            text = text.replace(old, new)
    return text


def _tokens(text: str) -> list[str]:
    return _TOKEN_RE.findall(_fix_chars(text))


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _variants(alias: str) -> Iterator[str]:
    """Spellings of one alias: accents dropped, "Saint" written "St."."""
    yield alias
    plain = _strip_accents(alias)
    yield plain
    for form in (alias, plain):
        if form.startswith("Saint "):
            yield "St. " + form[6:]
            yield "St " + form[6:]
        if form.startswith("the "):
            yield form[4:]


def _plural(demonym: str) -> str | None:
    if demonym == "Czech":
        return "Czechs"
    if demonym.endswith(("ese", "sh", "ch", "ss", "sy", "ic", "men", "y")) or demonym.endswith("woman"):
        return None
    return demonym[:-3] + "men" if demonym.endswith("man") and demonym != "German" else demonym + "s"


def _parse_table(table: str) -> Iterator[tuple[str, str, str, float | None]]:
    """(section, alias, flags, weight or None) for each alias of a table."""
    for line in table.strip().splitlines():
        section, _, rest = line.partition(" = ")
        for raw in rest.split("; "):
            alias, _, weight = raw.strip().partition("@")
            flags = ""
            if alias.endswith("}"):
                alias, _, flags = alias[:-1].partition("{")
            yield section.strip(), alias, flags, float(weight) if weight else None


def _entry(region: str | None, kind: str, alias: str, flags: str = "", weight: float | None = None,
           state: str | None = None) -> _Entry:
    return _Entry(region, _WEIGHTS[kind] if weight is None else weight, kind, "w" in flags, "p" in flags,
                  "n" in flags, "c" in flags, state, alias)


def _pycountry_entries() -> Iterator[tuple[str, _Entry]]:
    import pycountry  # imported here: only the first call pays for loading its tables

    for country in pycountry.countries:
        code = country.alpha_2
        if code in _NO_SECTION:
            continue
        common = getattr(country, "common_name", None)
        section = US if code in _US_CODES else _SECTION_NAMES.get(code) or common or country.name
        for name in (country.name, common, getattr(country, "official_name", None), section):
            if name and "," not in name:
                name = name.split(" (")[0]
                yield name, _entry(section, "name", name)


def _sections(country_sections: Iterable[str]) -> list[str]:
    return sorted(set(country_sections) | set(_EXTRA_SECTIONS), key=_strip_accents)


@cache
def _matcher() -> _Matcher:
    """Every alias as a token sequence, indexed by its first token; later tables override earlier ones."""
    table: dict[tuple[str, ...], _Entry] = {}

    def add(alias: str, entry: _Entry, override: bool = True) -> None:
        for variant in _variants(alias):
            key = tuple(_tokens(variant))
            if key and (override or key not in table):
                table[key] = entry

    sections: set[str] = set()
    for alias, entry in _pycountry_entries():
        add(alias, entry)
        sections.add(entry.region or "")
    for kind, text in (("name", _NAMES), ("demonym", _DEMONYMS), ("place", _PLACES), ("figure", _FIGURES)):
        for section, alias, flags, weight in _parse_table(text):
            add(alias, _entry(section, kind, alias, flags, weight))
            plural = _plural(alias) if kind == "demonym" else None
            if plural:
                add(plural, _entry(section, kind, plural, flags, weight), override=False)
    for state, alias, flags, weight in _parse_table(_US_STATES):
        kind = "state" if alias == state else "state_place"
        add(alias, _entry(US, kind, alias, flags, weight, state=state))
    for section, alias, flags, weight in _parse_table(_PHRASES):
        add(alias, _entry(None if section == "-" else section, "place", alias, flags, weight))
    # Georgia: the US state or the country, settled per article (see _resolve_georgia).
    add(_GEORGIA, _entry(_GEORGIA, "name", _GEORGIA, "p"))
    for form in _GEORGIAN_FORMS:
        add(form, _entry(_GEORGIA, "demonym", form))
    first: dict[str, list[tuple[tuple[str, ...], _Entry]]] = {}
    for key, entry in table.items():
        first.setdefault(key[0], []).append((key, entry))
    for candidates in first.values():
        candidates.sort(key=lambda item: -len(item[0]))
    return _Matcher(first, _sections(sections))


# --- scanning an article ------------------------------------------------------------------------------------


def _is_name_word(token: str) -> bool:
    return token[:1].isupper() and token.isalpha() and token not in _FUNCTION_WORDS


def _is_caps_word(token: str) -> bool:
    return len(token) > 1 and token.isalpha() and token.isupper()


def _is_title_case(tokens: list[str]) -> bool:
    words = [t for t in tokens if t.isalpha() and len(t) >= 4]
    return len(words) >= 2 and sum(t[0].isupper() for t in words) >= 0.6 * len(words)


def _guarded(entry: _Entry, tokens: list[str], start: int, end: int, check_names: bool) -> bool:
    """True when the context shows the alias is part of a person's name or of shouted capitals."""
    prev = tokens[start - 1] if start > 0 else ""
    nxt = tokens[end] if end < len(tokens) else ""
    if entry.caps and (_is_caps_word(prev) or _is_caps_word(nxt)):
        return True
    if not check_names:
        return False
    return (entry.guard_prev and _is_name_word(prev)) or (entry.guard_next and _is_name_word(nxt))


def _match_at(first: dict[str, list[tuple[tuple[str, ...], _Entry]]], tokens: list[str],
              i: int) -> tuple[int, _Entry] | None:
    for key, entry in first.get(tokens[i], ()):
        n = len(key)
        if tuple(tokens[i:i + n]) == key:
            return n, entry
    return None


def _scan(tokens: list[str], lead_until: int, in_title: bool, check_names: bool) -> Iterator[_Mention]:
    """Longest-match scan; lead_until is the token index where the lead ends."""
    first = _matcher().first
    i = 0
    while i < len(tokens):
        found = _match_at(first, tokens, i)
        if found is None:
            i += 1
            continue
        n, entry = found
        end = i + n
        if _counts(entry, tokens, i, end, check_names):
            prev = tokens[i - 1].lower() if i > 0 else ""
            yield _Mention(entry, in_title, i < lead_until, prev in _LOCATIVE, entry.region, entry.state,
                           _attributive(entry, tokens, end), prev in _PLACED,
                           personal=_personal(tokens, i, end))
        i = end


def _attributive(entry: _Entry, tokens: list[str], end: int) -> bool:
    """True when a name is a noun adjunct naming what an issue concerns ("Russia probe", "Iran deal"), or the
    first half of a pair ("U.S.-Israel"): the story is about the issue, often in another country."""
    if entry.kind == "demonym" or end >= len(tokens):
        return False
    nxt = tokens[end]
    if nxt == "-" and end + 1 < len(tokens):
        return _match_at(_matcher().first, tokens, end + 1) is not None
    return nxt.lower() in _ISSUE_NOUNS


def _personal(tokens: list[str], start: int, end: int) -> bool:
    """True when the name gives a person's office: "Mexican President", "Israel Prime Minister", "President of
    Mexico" (with "Ex-", "Former" before the office)."""
    nxt = tokens[end].lower() if end < len(tokens) else ""
    if nxt in _OFFICES:
        return True
    return start >= 2 and tokens[start - 1].lower() == "of" and tokens[start - 2].lower() in _OFFICES


def _counts(entry: _Entry, tokens: list[str], start: int, end: int, check_names: bool) -> bool:
    if entry.region is None or _guarded(entry, tokens, start, end, check_names):
        return False
    return not (entry.kind == "place" and entry.region != US and _followed_by_us_state(tokens, end))


def _followed_by_us_state(tokens: list[str], end: int) -> bool:
    """True after a place followed by ", <US state>": "Paris, Texas" is a US town, not the French capital."""
    if end + 1 >= len(tokens) or tokens[end] != ",":
        return False
    found = _match_at(_matcher().first, tokens, end + 1)
    return found is not None and (found[1].state is not None or found[1].alias in _GEORGIA_STATE_CUES
                                  or found[1].alias == _GEORGIA)


def _body_tokens(text: str) -> tuple[list[str], int]:
    """Tokens of the body and the index where its lead ends (first paragraphs or words, whichever is more)."""
    tokens: list[str] = []
    lead_until = 0
    words = 0
    for p, paragraph in enumerate(_fix_chars(text[:_MAX_TEXT]).split("\n")):
        found = _TOKEN_RE.findall(paragraph)
        if words <= _LEAD_MAX_WORDS:
            limit = _LEAD_MAX_WORDS if p < _LEAD_PARAGRAPHS else _LEAD_WORDS
            for k, token in enumerate(found):
                words += token[0].isalnum()
                if words > limit:
                    break
                lead_until = len(tokens) + k + 1
        tokens.extend(found)
        tokens.append(".")  # a paragraph break ends any phrase
    return tokens, lead_until


def _normalise_title(title: str) -> str:
    """All-capitals headlines are title-cased so that case-sensitive names still match."""
    if any(c.isalpha() for c in title) and not any(c.islower() for c in title):
        return title.title()
    return title


def _mentions(title: str, text: str) -> list[_Mention]:
    title_tokens = _tokens(_normalise_title((title or "")[:_MAX_TEXT]))
    body, lead_until = _body_tokens(text or "")
    mentions = list(_scan(title_tokens, len(title_tokens), True, not _is_title_case(title_tokens)))
    mentions += _dateline(text or "")
    mentions += _scan(body, lead_until, False, True)
    _resolve_georgia(mentions)
    return _supported(mentions, title_tokens, body)


_DATELINE_ENDS = frozenset({"-", "—", "―", "(", ":"})
_PLACE_KINDS = frozenset({"name", "place", "state", "state_place"})
_DATELINE_MAX = 10  # tokens before the dash: "SAN JUAN, Puerto Rico" fits, a sentence does not


def _dateline(text: str) -> list[_Mention]:
    """The place a report was filed from, when the body opens with a dateline ("WASHINGTON —")."""
    head = _TOKEN_RE.findall(_fix_chars(text.lstrip()[:200]).split("\n", 1)[0])
    end = next((k for k, token in enumerate(head[:_DATELINE_MAX + 1]) if token in _DATELINE_ENDS), -1)
    if end <= 0 or not all(t in {",", "."} or t[:1].isupper() for t in head[:end]):
        return []
    words = head[:end]
    if head[end] == ":" and not words[0].isupper():  # "Washington: the..." is a sentence
        return []
    place = _tokens(" ".join(words).title() if all(w.isupper() for w in words if w.isalpha()) else " ".join(words))
    found = [m for m in _scan(place, 0, False, False) if m.entry.kind in _PLACE_KINDS]
    for m in found:
        m.dateline = True
    return found[:1] if found and found[-1].region == found[0].region else found[-1:]


def _resolve_georgia(mentions: list[_Mention]) -> None:
    """Georgia is the country with Tbilisi-like cues, the US state with Atlanta-like or other US cues."""
    georgia = [m for m in mentions if m.region == _GEORGIA]
    if not any(m.entry.alias == _GEORGIA for m in georgia):
        return
    country = sum(2.0 if m.entry.kind == "place" else 1.0 for m in georgia if m.entry.alias != _GEORGIA)
    state_cues = sum(2.0 for m in mentions if m.entry.alias in _GEORGIA_STATE_CUES)
    state_cues += min(2.0, 0.5 * sum(1 for m in mentions if m.region == US))
    for m in georgia:
        if m.entry.alias not in {_GEORGIA, *_GEORGIAN_FORMS}:
            continue
        if country > state_cues:
            continue
        if state_cues > 0 and m.entry.alias == _GEORGIA:
            m.region, m.state = US, _GEORGIA
        else:
            m.region = None


def _supported(mentions: list[_Mention], title_tokens: list[str], body: list[str]) -> list[_Mention]:
    """Drop weak mentions whose region has no strong or place-like mention, or whose veto words occur."""
    strong = {m.region for m in mentions if not m.entry.weak}
    located = {m.region for m in mentions if m.entry.weak and m.locative}
    words: set[str] | None = None
    kept = []
    for m in mentions:
        if m.region is None:
            continue
        if m.entry.weak and m.region not in strong:
            veto = _VETO_WORDS.get(m.entry.alias)
            if veto:
                words = words if words is not None else {t.lower() for t in title_tokens + body}
                if veto & words:
                    continue
            if m.region not in located:
                continue
        kept.append(m)
    return kept


# --- salience -----------------------------------------------------------------------------------------------


def _mention_salience(mentions: list[_Mention]) -> list[tuple[str, float]]:
    """Every region named in the headline or repeated in the body, headline first: what the article mentions.
    Kept as the plain reference for ``detect_regions``, which asks what the article is about."""
    title_w: dict[str, float] = {}
    body_w: dict[str, float] = {}
    body_n: dict[str, int] = {}
    lead_regions: set[str] = set()
    order: dict[str, int] = {}
    for idx, m in enumerate(mentions):
        region = m.region or ""
        if m.dateline:
            continue
        order.setdefault(region, idx)
        if m.in_title:
            title_w[region] = title_w.get(region, 0.0) + m.entry.weight
            continue
        body_w[region] = body_w.get(region, 0.0) + m.entry.weight * (_LEAD_FACTOR if m.lead else 1.0)
        body_n[region] = body_n.get(region, 0) + 1
        if m.lead:
            lead_regions.add(region)
    scores = {
        r: 8.0 * math.sqrt(title_w.get(r, 0.0)) + _BODY_FACTOR * math.log2(1.0 + body_w.get(r, 0.0))
        for r in order
    }
    alone = len(order) == 1
    passing = [r for r in order if r in title_w or body_n.get(r, 0) >= 2 or (alone and r in lead_regions)]
    top = max((scores[r] for r in passing), default=0.0)
    passing = [r for r in passing if r in title_w or scores[r] >= 0.2 * top]
    passing.sort(key=lambda r: (-scores[r], order[r]))
    return [(r, scores[r]) for r in passing]


def _title_weights(mentions: list[_Mention]) -> tuple[dict[str, float], set[str]]:
    """Headline evidence per region: the subject (the first region named, or where the news happens) weighs
    most, other names less, and a noun adjunct ("Russia probe") little; a region's further names add half.
    Also the regions the headline gives as the place of the news: a place that is its subject ("China halts
    exports") or follows "in", "at" ("talks in Beijing"), as opposed to a person ("Netanyahu", "Mexican
    president") or an issue."""
    per_region: dict[str, list[float]] = {}
    places: set[str] = set()
    subject_seen = False
    for m in mentions:
        if not m.in_title or m.dateline:
            continue
        if m.attributive:
            role = _TITLE_ADJUNCT
        elif m.personal:  # a nationality of a person named by office: who, not where
            role = _TITLE_OTHER
        elif not subject_seen or m.placed:
            role = _TITLE_SUBJECT
            if m.entry.kind in _PLACE_KINDS:
                places.add(m.region or "")
        else:
            role = _TITLE_OTHER
        subject_seen = subject_seen or not m.attributive
        per_region.setdefault(m.region or "", []).append(role * m.entry.weight)
    return {r: max(ws) + 0.5 * (sum(ws) - max(ws)) for r, ws in per_region.items()}, places


def _salience(mentions: list[_Mention]) -> list[tuple[str, float]]:
    """Regions the article is about, most first: headline roles, the dateline, and the body's balance.

    A region qualifies through the headline (not only as a noun adjunct), the dateline, or repeated body
    mentions; any qualifier must also reach a share of the top score, so a passing mention makes no section.
    """
    title, title_places = _title_weights(mentions)
    dateline = {m.region or "" for m in mentions if m.dateline}
    body_w: dict[str, float] = {}
    body_n: dict[str, int] = {}
    lead_regions: set[str] = set()
    order: dict[str, int] = {}
    for idx, m in enumerate(mentions):
        region = m.region or ""
        order.setdefault(region, idx)
        if m.in_title or m.dateline:
            continue
        body_w[region] = body_w.get(region, 0.0) + m.entry.weight * (_LEAD_FACTOR if m.lead else 1.0)
        body_n[region] = body_n.get(region, 0) + 1
        if m.lead:
            lead_regions.add(region)
    scores = {
        r: title.get(r, 0.0) + (_DATELINE_WEIGHT if r in dateline else 0.0)
        + _BODY_WEIGHT * math.log2(1.0 + body_w.get(r, 0.0))
        for r in order
    }
    alone = len(order) == 1
    headline = {r for r, w in title.items() if w >= _TITLE_OTHER * 0.5}  # more than an adjunct
    qualified = [r for r in order if r in headline or r in dateline or body_n.get(r, 0) >= 2
                 or (alone and (r in lead_regions or r in title))]
    top = max((scores[r] for r in qualified), default=0.0)
    passing = [r for r in qualified if scores[r] >= _MIN_SHARE * top]
    passing.sort(key=lambda r: (-scores[r], order[r]))
    return _home_first([(r, scores[r]) for r in passing], dateline | title_places)


def _home_first(ranked: list[tuple[str, float]], located: set[str]) -> list[tuple[str, float]]:
    """The home region (the United States) first when it is nearly as much the subject as the leading country:
    a home desk files the president's dealings with a foreign leader, or a foreign figure in a domestic
    campaign, as home news. Another country leads when it clearly outweighs home, or when the news is located
    there (``located``: the dateline, or the headline's place of the news)."""
    if len(ranked) < 2 or ranked[0][0] == HOME_REGION or ranked[0][0] in located:
        return ranked
    home = next((item for item in ranked if item[0] == HOME_REGION), None)
    if home is None or home[1] * _HOME_MARGIN < ranked[0][1]:
        return ranked
    return [home] + [item for item in ranked if item is not home]


# --- public API ---------------------------------------------------------------------------------------------


def detect_regions(title: str, text: str, *, max_regions: int = 3) -> list[str]:
    """Section names of the regions the article is about, most salient first (at most ``max_regions``)."""
    if max_regions <= 0:
        return []
    return [region for region, _ in _salience(_mentions(title, text))][:max_regions]


def mentioned_regions(title: str, text: str, *, max_regions: int = 3) -> list[str]:
    """Regions named in the headline or repeated in the body, headline first: a plain reference to compare
    ``detect_regions`` with (a passing headline mention counts here)."""
    if max_regions <= 0:
        return []
    return [region for region, _ in _mention_salience(_mentions(title, text))][:max_regions]


def region_names() -> list[str]:
    """Every section name detect_regions can return, sorted."""
    return list(_matcher().regions)


def is_region(section: str) -> bool:
    """Whether a section name is one detect_regions files under (topics and sources' own sections are not)."""
    return section in _region_set()


@cache
def _region_set() -> frozenset[str]:
    return frozenset(_matcher().regions)


def us_state_of(title: str, text: str) -> str | None:
    """The US state (or "District of Columbia", "Puerto Rico") named most often; a title mention counts 3."""
    counts: dict[str, float] = {}
    for m in _mentions(title, text):
        if m.region == US and m.state:
            counts[m.state] = counts.get(m.state, 0.0) + (3.0 if m.in_title else 1.0)
    if not counts:
        return None
    return max(counts, key=lambda s: counts[s])  # ties go to the first state named (dicts keep order)


# --- a story's regions --------------------------------------------------------------------------------------
# All reports of one event are about the same place; an article read alone may name none (a lead-only "Senate
# passes the budget bill") or take a passing mention for its subject. The story's members settle it together.


def story_regions(members: Sequence[Sequence[str]]) -> list[str]:
    """The regions a story is about, from each member's regions (main one first): the main region of a clear
    majority of the members that name any region, then every region a clear majority names at all (a story
    about two countries has two), most named first. Empty when no region has a clear majority."""
    main, also = _story_view(members)
    return ([main] if main else []) + also


def shared_regions(members: Sequence[Sequence[str]]) -> list[list[str]]:
    """Each member's regions once its story's are shared: a member whose main region is none of the story's
    puts the story's main region first (its own follow), and a member lacking a story region gains it after
    its own. Nothing is ever removed; without a clear majority a member keeps its regions as they are."""
    main, also = _story_view(members)
    story = ([main] if main else []) + also
    out = []
    for regions in members:
        mine = list(dict.fromkeys(regions))
        if main and (not mine or mine[0] not in story):
            mine = [main] + [r for r in mine if r != main]
        out.append(mine + [r for r in story if r not in mine])
    return out


def _story_view(members: Sequence[Sequence[str]]) -> tuple[str | None, list[str]]:
    """(the story's main region or None, its other regions). A clear majority is more than half of the members
    that name a region, and at least two of them: one report may have been read wrong, so it never speaks for
    the others, and a tie says the story has no one region. Members that name no place do not vote: saying
    nothing about a place is no evidence against it."""
    voters = [list(dict.fromkeys(m)) for m in members if m]

    def clear(n: int) -> bool:
        return n >= 2 and 2 * n > len(voters)

    mains = Counter(m[0] for m in voters)
    main = next((r for r, n in mains.items() if clear(n)), None)  # a strict majority: at most one
    named = Counter(r for m in voters for r in m)  # counts keep first-seen order; the sort below is stable
    also = sorted((r for r, n in named.items() if clear(n) and r != main), key=lambda r: -named[r])
    return main, also
