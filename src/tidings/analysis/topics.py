"""Topic sections (Politics, Business, Technology, Science, Health, Sports, Entertainment, World) from the text.

Two ways to tell, both without training data:

* lexical (at save time, no model): a curated lexicon of terms each topic's news uses ("quarterback",
  "earnings", "parliament", "vaccine"), weighted by how specific a term is, headline terms counting double;
* prototypes (in the analysis step, where MiniLM vectors exist): short prototype sentences per topic, embedded
  once; an article's vector is compared with them, and the two views are combined.

Only the top topic becomes a section, and only when it clearly leads (``confident``).
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING

from tidings.analysis.regions import HOME_REGION  # whose politics is Politics; other countries' is World

if TYPE_CHECKING:  # numpy is imported where vectors are handled, not at save time
    import numpy as np

    from tidings.analysis.embeddings import Embedder

TOPICS = ("Politics", "Business", "Technology", "Science", "Health", "Sports", "Entertainment", "World")

# --- lexicon -----------------------------------------------------------------------------------------------
# "Topic @weight = term; term; ...". Terms are lower-case words or phrases; "*" at the end matches any ending
# ("playoff*" is playoff, playoffs). Weights: 3 = names the topic on its own, 2 = strong, 1 = usual, 0.5 = a
# hint shared with other topics.

_LEXICON = """
Sports @3 = football; soccer; basketball; baseball; hockey; tennis; golf; golfer*; cricket; rugby; olympic*;
Sports @3 = nfl; nba; mlb; nhl; wnba; fifa; uefa; ncaa; nascar; quarterback*; touchdown*; inning*; pitcher*;
Sports @3 = goalkeeper*; midfielder*; striker*; wimbledon; super bowl; world series; stanley cup; world cup;
Sports @3 = premier league; champions league; grand slam; grand prix; formula one; tour de france; ryder cup;
Sports @3 = home run*; homer*; playoff*; postseason; semifinal*; quarterfinal*; batsman; batsmen; wicket*;
Sports @3 = birdie*; bogey*; fairway*; rebounds; slam dunk; field goal*; free kick*; penalty kick*; hat trick;
Sports @3 = boxing; boxer*; ufc; wrestling; gymnast*; gymnastics; sprinter*; swimmer*; cyclist*; marathon*;
Sports @3 = tennis; racquet*; grand final; decathlon; heptathlon; javelin; pole vault; relay team*; velodrome;
Sports @3 = shortstop*; outfielder*; linebacker*; running back*; wide receiver*; head coach*; rookie*; mvp;
Sports @3 = red sox; yankees; dodgers; lakers; celtics; knicks; real madrid; manchester united; juventus;
Sports @3 = bayern munich; all-star*; hall of fame; heavyweight; middleweight; medalist*; gold medal*;
Sports @3 = silver medal*; bronze medal*; paralympic*; athletics; track and field; figure skat*; ski jump*;
Sports @3 = snowboard*; rowing; regatta*; equestrian; fencing; judo; taekwondo; weightlift*; archery; polo
Sports @2 = coach*; athlete*; tournament*; championship*; medal*; stadium*; league*; season opener; innings;
Sports @2 = referee*; umpire*; scored; goals; teammate*; defender*; forward*; seeded; seed; sets; runner-up;
Sports @2 = title defence; title defense; champion*; lap*; race*; racing; driver*; squad*; roster*; draft pick*;
Sports @2 = free agent*; trade deadline; striker; penalty shootout; overtime; extra time; halftime; half-time;
Sports @2 = clubhouse; bullpen; dugout; innings; hits; runs; yards; rushing; interception*; sacked; tackle*;
Sports @3 = sport; sports; play-off*; olympian*
Sports @2 = victory; defeat*; beat; beats; win; wins; won; fans; team*; match*; game*; games; cup; final;
Sports @2 = finals; qualif*; contender*; bout*
Sports @1 = score*; point*; lead; led; round*; club*; opener; rally; rallied; streak*; record; title*; play*;
Sports @1 = injur*; manager*; player*; captain*; world record*; personal best; podium; pool; course; court

Business @3 = stock market*; stock exchange*; wall street; nasdaq; dow jones; s&p; ftse; nikkei; dax; ipo;
Business @3 = initial public offering; earnings; quarterly profit*; net income; revenue*; profit*; shareholder*;
Business @3 = stockholder*; dividend*; merger*; acquisition*; takeover*; buyout*; chief executive*; ceo*;
Business @3 = cfo; inflation; interest rate*; federal reserve; central bank*; recession; gdp; gross domestic;
Business @3 = unemployment; jobless; payroll*; layoff*; job cuts; bankrupt*; chapter 11; creditor*; mortgage*;
Business @3 = crude; oil price*; barrel*; opec; tariff*; trade deficit; trade surplus; retailer*; retail sales;
Business @3 = consumer spending; consumer confidence; economist*; analyst*; investor*; brokerage*; hedge fund*;
Business @3 = private equity; venture capital; bond*; treasur*; yield*; currenc*; exchange rate*; stock*; shares;
Business @3 = securities and exchange commission; antitrust; airline*; automaker*; carmaker*; drugmaker*;
Business @3 = steelmaker*; chipmaker*; conglomerate*; wholesale*; valuation*; market share; sales; forecast*
Business @2 = economy; economic*; market*; company; companies; corporat*; firm; firms; business*; industry;
Business @2 = industries; bank; banks; banking; banker*; investment*; invest*; fund*; billion; dollar*; euro*;
Business @2 = yen; price*; pricing; cost*; costs; deal*; contract*; trade; trading; trader*; export*; import*;
Business @2 = quarter*; fiscal; financ*; loan*; lend*; lender*; debt*; credit*; insurer*; insurance; factory;
Business @2 = factories; manufactur*; output; demand; supply; supplier*; growth; jobs; employer*; employee*;
Business @2 = worker*; wage*; union*; strike*; labor; labour dispute*; retail*; store*; chain*; brand*;
Business @2 = subsidiar*; executive*; chairman; board; boardroom; profitab*; loss-making; cut costs; budget*;
Business @2 = oil; gas prices; energy prices; commodit*; gold price*; housing market; home sales; real estate;
Business @2 = tax*; regulator*; regulation*; lawsuit*; settlement*; monopoly; competitor*; rival*; bid*; offer*
Business @1 = million; percent; per cent; rose; fell; rise; fall; higher; lower; sell*; buy*; sold; bought;
Business @1 = plan*; expand*; expansion; cut*; raise*; raised; report*; outlook; customer*; product*; launch*

Technology @3 = software; hardware; computer*; computing; internet; online; web; website*; browser*; microsoft;
Technology @3 = google; yahoo; ibm; intel; amd; nvidia; oracle; linux; unix; open source; open-source;
Technology @3 = operating system*; semiconductor*; microchip*; chip*; processor*; smartphone*; cellphone*;
Technology @3 = cell phone*; mobile phone*; handset*; wireless; broadband; wi-fi; wifi; bluetooth; gadget*;
Technology @3 = artificial intelligence; machine learning; robot*; robotic*; algorithm*; database*; cyber*;
Technology @3 = hacker*; hack*; malware; spyware; spam; spammer*; phishing; worm*; trojan*;
Technology @3 = encryption; password*; download*; upload*; file-sharing; file sharing; peer-to-peer; p2p;
Technology @3 = iphone*; ipad*; android; tablet*; laptop*; pc; pcs; desktop*;
Technology @3 = server*; search engine*; tech; technology; technologies; technological; telecom*; silicon valley;
Technology @3 = digital; video game*; videogame*; gaming; console*; xbox; playstation; nintendo;
Technology @3 = social media; social network*; facebook; twitter; blog*; blogger*; podcast*; programmer*;
Technology @3 = software developer*; e-mail*; email*; instant messag*; dot-com; data center*; cloud computing;
Technology @3 = blockchain; bitcoin; cryptocurrenc*; gigabyte*; megabyte*; terabyte*; broadband; hdtv;
Technology @3 = dvd*; flat-panel; lcd; microprocessor*; supercomputer*; voip; internet phone*;
Technology @3 = telecommunications; isp*; macintosh; mac os;
Technology @3 = hewlett-packard; dell; cisco;
Technology @3 = motorola; nokia; samsung; ericsson; qualcomm; sap; salesforce; amazon.com; ebay; paypal;
Technology @3 = skype; youtube; wikipedia; user*; app; apps; startup*; start-up*; tech firm*; it security
Technology @2 = device*; network*; networking; electronic*; screen*; display*; storage; memory; data;
Technology @2 = digital music; music download*; patent*; version*; upgrade*; launch*; platform*; code;
Technology @2 = security flaw*; vulnerabilit*; patch*; bug*; program*; system*; camera*; phone*; mobile;
Technology @2 = satellite tv; cable; telephone; engineer*; innovation*; gadget; electronics
Technology @1 = service*; customer*; access; connection*; site*; search; information; feature*; tool*; users

Science @3 = scien*; researcher*; nasa; space; spacecraft; astronaut*; space station; orbit*; planet*;
Science @3 = mars; martian; lunar; asteroid*; comet*; telescope*; galax*; astronom*; solar system;
Science @3 = black hole*; cosmic; cosmolog*; rocket*; space shuttle; shuttle; physic*; chemist*; chemical*;
Science @3 = biolog*; species; evolution*; evolutionary; fossil*; dinosaur*; genome*; genetic*; gene*; dna;
Science @3 = climate; global warming; greenhouse gas*; emission*; carbon dioxide; ecolog*; ecosystem*;
Science @3 = wildlife; extinct*; endangered; biodiversity; glacier*; arctic; antarctic*; ice sheet*; volcan*;
Science @3 = seismic; geolog*; archaeolog*; paleontolog*; laborator*; experiment*; particle*; quantum;
Science @3 = molecul*; atom*; neutrino*; physicist*; biologist*; zoolog*; marine; coral*; reef*; meteor*;
Science @3 = mammal*; primate*; chimp*; insect*; whale*; dolphin*; shark*; sea turtle*; habitat*; probe*;
Science @3 = hubble; voyager; rover*; esa; space agency; launch pad; payload*; satellite*;
Science @3 = spaceflight; space flight; solar; nanotechnolog*; nanotube*; superconduct*;
Science @3 = clone*; cloning; stem cell*; embryo*; ozone; rainforest*; deforestation; conservation*;
Science @3 = environmental*; environment; pollution; pollutant*; smog; wildfire*; hurricane*; meteorolog*;
Science @3 = weather service; forecaster*; el nino; drought*; ice age; tectonic; earthquake*; tsunami*
Science @2 = research; study; studies; discover*; discovery; journal nature; journal science; findings;
Science @2 = theory; theories; universe; moon; earth; ocean*; animal*; bird*; fish*; forest*; carbon;
Science @2 = temperature*; lab; labs; million years; billion years
Science @1 = star*; sun; sea*; ice; water; energy; nuclear; plant*; tree*; crop*; soil; fuel*; heat; test*;
Science @1 = sample*; measure*; data; model*; university; professor*; institute; found; finds; suggest*;
Science @1 = evidence; ancient; natural; nature

Health @3 = health; healthcare; health care; hospital*; doctor*; physician*; patient*; nurse*; disease*;
Health @3 = vaccin*; flu; influenza; covid*; coronavirus; pandemic*; epidemic*; outbreak*; cancer*; tumor*;
Health @3 = tumour*; diabet*; obes*; heart disease; heart attack*; hiv; medic*; pharmac*; fda;
Health @3 = clinical trial*; treatment*; therap*; surgery; surgeon*; surgical; diagnos*; symptom*;
Health @3 = infection*; infectious; public health; cdc; world health organization; mental health;
Health @3 = alzheimer*; dementia; autism; asthma; smoking; smoker*; tobacco; cigarette*; nutrition;
Health @3 = calorie*; cholesterol; blood pressure; medicare; medicaid; bird flu; sars; ebola; malaria;
Health @3 = tuberculosis; polio; measles; antibiotic*; bacteria*; bacterial; prescription*; side effect*;
Health @3 = overdose*; opioid*; painkiller*; pregnan*; infant*; life expectancy; drugmaker*; aspirin;
Health @3 = dental; dentist*; mammogra*; chemotherapy; transplant*; organ donor*; kidney*; liver; lung*;
Health @3 = brain; stroke*; arthritis; obesity; fitness; diet*; dieting; vitamin*; allerg*; immun*;
Health @3 = epidemiolog*; virus; viruses; viral; pathogen*; contagious; quarantine; sick; illness*; ill
Health @2 = drug*; care; clinic*; medical; study; studies; research*; risk*; children; women; men; blood;
Health @2 = heart; body; weight; sleep; exercise; death rate*; mortality; deaths; insurer*; insurance; pill*
Health @1 = people; age; aged; older; young; life; lives; died; cases; found; linked; suggest*; trial*

Entertainment @3 = film*; movie*; cinema*; actor*; actress*; hollywood; oscar*; academy award*; grammy*;
Entertainment @3 = emmy*; golden globe*; box office; box-office; album*; singer*; songwriter*; song*; music;
Entertainment @3 = musician*; concert*; rapper*; hip-hop; pop star*; rock star*; celebrit*; television;
Entertainment @3 = sitcom*; reality show*; reality tv; tv show*; tv series; episode*; broadway; theater;
Entertainment @3 = theatre; novelist*; best-seller*; bestseller*; fashion; red carpet; premiere*; sequel*;
Entertainment @3 = disney; pixar; netflix; hbo; comedian*; comedy; comedies; late-night; talk show*;
Entertainment @3 = documentar*; soundtrack*; billboard chart*; box office; blockbuster*; screenplay*;
Entertainment @3 = filmmaker*; director's; starring; starred; stars in; hit show; rock band*; boy band*;
Entertainment @3 = opera; ballet; orchestra*; festival*; cannes; sundance; mtv; showbiz;
Entertainment @3 = tabloid*; paparazzi; entertainer*; pop music; rock music; country music; jazz; tv host*
Entertainment @2 = star; stars; show; shows; series; tv; band*; tour*; stage; book*; novel*; author*; studio*;
Entertainment @2 = director; producer*; fans; record label*; chart*; hit; hits; celebrity; comic*; dance*;
Entertainment @2 = artist*; art; arts; museum*; gallery; painting*; actor; role; cast; audience*; viewer*;
Entertainment @2 = ratings; network*; cable; anime; game show*; video; videos; magazine*; wedding; divorce*

Politics @3 = election*; elected; electoral; electorate; voter*; voting; ballot*; polls; polling; pollster*;
Politics @3 = presidential; white house; congress; congressional; senate; senator*; house of representatives;
Politics @3 = lawmaker*; legislator*; legislature*; parliament*; parliamentar*; mp; mps; governor*; mayor*;
Politics @3 = democrat*; republican*; gop; labour party; conservative party; tory; tories; liberal democrat*;
Politics @3 = referendum*; impeach*; politic*; partisan*; bipartisan; filibuster*; caucus*; primaries;
Politics @3 = running mate; campaign trail; speaker of the house; house speaker; re-election; reelection;
Politics @3 = electoral college; approval rating*; swing state*; battleground state*; senate race;
Politics @3 = super pac; democratic party; republican party; opposition party; ruling party; incumbent*;
Politics @3 = coalition government; cabinet minister*; attorney general; supreme court; veto*
Politics @2 = vote*; voted; candidate*; campaign*; nominee*; nomination*; legislat*; constitution*;
Politics @2 = government*; administration*; policy; policies; bill; bills; law; laws; governing; cabinet;
Politics @2 = minister*; prime minister*; chancellor*; premier; immigration; gun control; abortion;
Politics @2 = same-sex marriage; gay marriage; death penalty; oversight; hearing*; testif*; testimony;
Politics @2 = subpoena*; indict*; lobby*; lobbyist*; donor*; fundrais*; convention*; delegate*; debate*;
Politics @2 = liberal*; conservative*; progressive*; secretary of state; state department; federal;
Politics @2 = judiciary; justice department; homeland security; poll
Politics @1 = president; party; parties; leader*; official*; officials; court*; judge*; justice*; ruling;
Politics @1 = rights; reform*; budget; spending; tax*; taxes; welfare; social security; pension*; public;
Politics @1 = state; states; national; citizen*; protest*; rally; rallies; speech*; spokes*; aide*;
Politics @1 = adviser*; advisor*; sworn; resign*; scandal*; proposal*; critic*; oppos*

World @3 = war; wars; wartime; military; militar*; troops; soldier*; army; armies; armed forces; navy;
World @3 = militant*; insurgen*; rebel*; guerrilla*; terror*; suicide bomb*; bomb*; bombing*; airstrike*;
World @3 = air strike*; missile*; militia*; ceasefire*; cease-fire*; truce; peace talks; peace process;
World @3 = peacekeep*; diplomat*; diplomacy; embassy; embassies; ambassador*; envoy*; united nations;
World @3 = security council; nato; european union; sanction*; hostage*; kidnap*; abduct*; refugee*;
World @3 = humanitarian; human rights; genocide; coup*; junta; uprising*; regime*; dictator*;
World @3 = foreign minister*; foreign ministry; foreign policy; invasion; invad*; occupation; occupied;
World @3 = al qaeda; al-qaeda; qaeda; taliban; hamas; hezbollah; isis; islamic state; jihad*; shiite*;
World @3 = sunni*; cleric*; car bomb*; gunmen; death toll; famine; aid workers; state media; state-run;
World @3 = news agency; insurgent*; shelling; artillery; casualt*; civilian*; massacre*; atrocit*; warlord*;
World @3 = nuclear program*; nuclear programme*; uranium enrich*; weapons inspector*; asylum; migrant*;
World @3 = border clash*; separatist*; independence; annex*; sovereignty; territorial; disputed;
World @3 = exile*; opposition leader*; crackdown; martial law; curfew*; unrest; riot*; protester*;
World @2 = foreign; overseas; international; summit*; treaty; treaties; bilateral; king; queen; monarch*
World @2 = demonstrator*; clash*; clashes; fighting; fighter*; offensive; siege; gunfire; killed
World @1 = attack*; kill*; dead; death*; wounded; injured; violence; violent; explosion*; blast*;
World @1 = police; arrest*; prison*; trial; charges; accused; sentence*; executed; execution*; victims;
World @1 = talks; negotiat*; agreement*; accord*; dispute*; crisis; tension*; threat*; warn*; condemn*;
World @1 = aid; relief; disaster*; flood*; earthquake*; tsunami*; storm*; cyclone*; typhoon*; forces;
World @1 = government; capital; province; provinces; region*; country; countries; border*; nation*; minister
"""

_TITLE_FACTOR = 2.0  # the headline says what the article is about; its words count double
_REPEAT = 0.5  # each further use of a term adds half of its weight, up to _MAX_REPEAT uses in all
_MAX_REPEAT = 3
_MAX_WORDS = 400  # headline and lead decide; later paragraphs wander
_CONFIDENT_SCORE = 6.0  # at least two strong terms, or one in the headline and more in the lead
_CONFIDENT_SHARE = 0.4  # and the top topic holds this share of all topic evidence
_CONFIDENT_MARGIN = 1.3  # and leads the runner-up by this factor


@dataclass(frozen=True, slots=True)
class _Lexicon:
    exact: dict[tuple[str, ...], tuple[tuple[str, float], ...]]  # phrase or word -> (topic, weight) pairs
    prefixes: dict[str, tuple[tuple[str, float], ...]]  # word beginnings ("playoff*")
    longest: int  # words in the longest phrase
    starts: frozenset[str]  # first words of phrases of two or more words: only these need a longer look


_WORD_RE = re.compile(r"[a-z0-9]+(?:[&'.\-][a-z0-9]+)*")


def _add(table: dict[tuple[str, ...] | str, dict[str, float]], key: tuple[str, ...] | str, topic: str,
         weight: float) -> None:
    weights = table.setdefault(key, {})
    weights[topic] = max(weights.get(topic, 0.0), weight)


@cache
def _lexicon() -> _Lexicon:
    exact: dict[tuple[str, ...] | str, dict[str, float]] = {}
    prefixes: dict[tuple[str, ...] | str, dict[str, float]] = {}
    longest = 1
    for line in _LEXICON.strip().splitlines():
        if not line.strip():
            continue
        head, _, terms = line.partition(" = ")
        topic, _, weight = head.partition(" @")
        for term in terms.split(";"):
            term = term.strip()
            if not term:
                continue
            if term.endswith("*") and " " not in term:
                _add(prefixes, term[:-1], topic.strip(), float(weight))
                continue
            words = tuple(_WORD_RE.findall(term.rstrip("*")))
            if term.endswith("*"):  # a phrase whose last word may take an ending: add the plural
                _add(exact, (*words[:-1], words[-1] + "s"), topic.strip(), float(weight))
            _add(exact, words, topic.strip(), float(weight))
            longest = max(longest, len(words))
    return _Lexicon(
        {k: tuple(v.items()) for k, v in exact.items() if isinstance(k, tuple)},
        {k: tuple(v.items()) for k, v in prefixes.items() if isinstance(k, str)},
        longest,
        frozenset(k[0] for k in exact if isinstance(k, tuple) and len(k) > 1),
    )


# --- text ---------------------------------------------------------------------------------------------------

_ARTEFACTS = (("#36;", "$"), ("#39;", "'"), ("quot;", '"'), ("#151;", "-"), ("\\", " "))
_TAG_RE = re.compile(r"<[^>]{0,300}>")


def clean_text(text: str) -> str:
    """Text with feed artefacts undone: escaped entities ("#39;", "&amp;lt;"), stray tags, backslash breaks."""
    for old, new in _ARTEFACTS:
        if old in text:
            text = text.replace(old, new)
    for _ in range(2):  # entities are sometimes escaped twice
        if "&" not in text:
            break
        text = html.unescape(text)
    return " ".join(_TAG_RE.sub(" ", text).split())


def _words(text: str) -> list[str]:
    return _WORD_RE.findall(text.lower())


def _terms(words: list[str]) -> Iterable[tuple[tuple[tuple[str, float], ...], tuple[str, ...]]]:
    """Lexicon hits, longest phrase first; a word inside a matched phrase is not matched again."""
    lex = _lexicon()
    i = 0
    while i < len(words):
        longest = min(lex.longest, len(words) - i) if words[i] in lex.starts else 1
        for n in range(longest, 0, -1):
            key = tuple(words[i:i + n])
            hit = lex.exact.get(key)
            if hit:
                yield hit, key
                i += n
                break
        else:
            found = _prefix_hit(words[i])
            if found:
                yield found
            i += 1


@lru_cache(maxsize=100_000)
def _prefix_hit(word: str) -> tuple[tuple[tuple[str, float], ...], tuple[str, ...]] | None:
    """The longest lexicon word beginning ("playoff*") that starts ``word``, remembered: words recur."""
    prefixes = _lexicon().prefixes
    for k in range(len(word), 2, -1):
        hit = prefixes.get(word[:k])
        if hit:
            return hit, (word[:k] + "*",)
    return None


def lexical_scores(title: str, text: str) -> dict[str, float]:
    """Evidence for each topic from the lexicon: headline terms count double, repeats count less."""
    uses: dict[tuple[str, ...], list[float]] = {}
    weights: dict[tuple[str, ...], tuple[tuple[str, float], ...]] = {}
    for factor, part in ((_TITLE_FACTOR, title), (1.0, text)):
        words = _words(clean_text(part or ""))[:_MAX_WORDS]
        for hit, key in _terms(words):
            weights[key] = hit
            uses.setdefault(key, []).append(factor)
    scores = dict.fromkeys(TOPICS, 0.0)
    for key, factors in uses.items():
        # the first (headline-first) use at full weight, further ones at _REPEAT, up to _MAX_REPEAT uses
        kept = factors[:_MAX_REPEAT]
        credit = kept[0] + _REPEAT * sum(kept[1:])
        for topic, weight in weights[key]:
            scores[topic] += weight * credit
    return scores


# --- decisions ----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopicGuess:
    topic: str | None  # None: no evidence at all
    share: float  # the top topic's share of all evidence, 0..1
    margin: float  # top score / runner-up score (inf when there is no runner-up)
    score: float
    confident: bool


def _guess(scores: dict[str, float], min_score: float, min_share: float, min_margin: float) -> TopicGuess:
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    total = sum(max(0.0, s) for _, s in ranked)
    top, best = ranked[0]
    if best <= 0.0:
        return TopicGuess(None, 0.0, 0.0, 0.0, False)
    second = ranked[1][1] if len(ranked) > 1 else 0.0
    share = best / total if total else 0.0
    margin = best / second if second > 0 else math.inf
    confident = best >= min_score and share >= min_share and margin >= min_margin
    return TopicGuess(top, share, margin, best, confident)


def _normalised(scores: dict[str, float]) -> dict[str, float]:
    """Lexical evidence as shares that sum to 1 (even when there is none)."""
    total = sum(scores.values())
    if total <= 0:
        return dict.fromkeys(scores, 1.0 / len(scores))
    return {t: s / total for t, s in scores.items()}


def topic_lexical(title: str, text: str) -> TopicGuess:
    """The topic the lexicon points to, and whether it clearly leads."""
    return _guess(lexical_scores(title, text), _CONFIDENT_SCORE, _CONFIDENT_SHARE, _CONFIDENT_MARGIN)


def topic_section(title: str, text: str, regions: Sequence[str] = ()) -> str | None:
    """The topic section for an article at save time, or None when the text does not clearly say.

    ``regions`` are the article's regions, main one first: politics about another country than the United
    States is filed under World, as a foreign desk would.
    """
    guess = topic_lexical(title, text)
    return _desk(guess.topic, regions) if guess.confident else None


def _desk(topic: str | None, regions: Sequence[str]) -> str | None:
    """Politics about another country than the United States goes to the World desk."""
    if topic == "Politics" and regions and regions[0] != HOME_REGION:
        return "World"
    return topic


# --- prototypes (embedding view) ----------------------------------------------------------------------------
# What an article of each topic typically says, in plain words; embedded once with the article model.

PROTOTYPES: dict[str, tuple[str, ...]] = {
    "Politics": (
        "The opposition accused the government of breaking its election promises.",
        "Parliament approved the reform after the ruling coalition struck a deal.",
        "The mayor proposed new taxes to close the city's budget gap.",
        "Campaign ads attacked the incumbent's voting record.",
        "The committee held a hearing and subpoenaed the former official.",
        "Democrats and Republicans clashed over the health care bill.",
        "Lawmakers vote on a bill in parliament after a heated debate.",
        "The senator announced a campaign for re-election as polls tighten.",
        "The governor signed the legislation into law despite opposition.",
        "Voters head to the polls in a closely fought presidential election.",
        "The party leader faces a leadership challenge over the budget.",
        "The Supreme Court ruled on the constitutionality of the law.",
        "The president's administration unveiled a new policy on immigration.",
        "Congress passed a spending package after bipartisan negotiations.",
        "The candidate won the primary and secured the nomination.",
        "A minister resigned after a scandal shook the government.",
        "The bill passed the House and now goes to the Senate for a vote.",
        "The president vetoed the spending bill passed by Congress.",
        "Polls show the challenger gaining ground ahead of the election.",
        "The candidates traded attacks in a televised debate.",
        "The party's convention nominated its candidate for president.",
        "The state legislature approved new voting rules.",
        "A federal judge blocked the administration's new rule.",
        "The White House nominated a new cabinet secretary, who faces a confirmation hearing.",
        "Lawmakers investigated the agency and questioned its director.",
        "The campaign raised millions of dollars from donors.",
        "Voters approved the ballot measure on taxes.",
        "The opposition won a majority in parliamentary elections.",
    ),
    "Business": (
        "The company's stock fell after it missed earnings estimates.",
        "Consumer spending and retail sales slowed in the holiday season.",
        "The carmaker recalled vehicles and cut production at its factories.",
        "The bank agreed to pay a settlement to regulators.",
        "Housing prices and mortgage rates rose for a third month.",
        "The startup raised money from venture capital investors ahead of its IPO.",
        "Workers went on strike over wages at the manufacturer.",
        "Exports dropped as tariffs hit trade between the two economies.",
        "Shares rose on Wall Street after the company reported higher quarterly profit.",
        "The central bank raised interest rates to fight inflation.",
        "The firm agreed to buy its rival in a multibillion-dollar merger.",
        "Oil prices climbed as supply concerns grew.",
        "The retailer cut its sales forecast and announced layoffs.",
        "The economy grew faster than economists expected last quarter.",
        "Investors sold bonds as the dollar weakened against the euro.",
        "The airline filed for bankruptcy protection after heavy losses.",
        "The chief executive said revenue would rise next year.",
        "Unemployment fell as employers added jobs.",
        "The company reported a quarterly loss and cut its outlook for the year.",
        "Stocks closed lower as investors worried about interest rates.",
        "The retailer's same-store sales rose in the latest quarter.",
        "The automaker will close a plant and cut thousands of jobs.",
        "Shareholders approved the takeover of the company.",
        "The oil company's profit jumped on higher crude prices.",
        "The government reported that inflation and consumer prices rose.",
        "The bank's chief executive resigned amid an accounting scandal.",
        "The media company agreed to sell its television stations.",
        "The drug company's shares fell after sales of its top product slowed.",
        "The insurer raised its earnings forecast.",
        "The telecommunications company agreed to buy a smaller rival for billions of dollars.",
        "The dollar fell against the yen and the euro in currency trading.",
        "The union and the company reached a labor agreement.",
        "Regulators fined the company for misleading investors.",
        "Factory orders and industrial output rose last month.",
        "The restaurant chain will open dozens of new locations this year.",
        "The supermarket group's sales grew as it opened more stores.",
    ),
    "Technology": (
        "The company's new web browser loads pages faster and protects users' privacy.",
        "Spam e-mail and phishing scams target online banking customers.",
        "The app lets users share photos and videos with friends.",
        "The phone maker's new handset runs faster mobile software.",
        "Engineers released an update to fix a bug in the program.",
        "The computer maker cut prices of its desktop PCs and servers.",
        "File-sharing networks face lawsuits over pirated copies.",
        "The website's users can now search and share photos.",
        "The software company released a new version of its operating system.",
        "Hackers exploited a security flaw to spread a computer virus.",
        "The chipmaker unveiled a faster processor for laptops and servers.",
        "The new smartphone has a bigger screen and a better camera.",
        "The internet search company launched a new online service for users.",
        "Video game console sales rose ahead of the holidays.",
        "The social network changed its privacy settings for users' data.",
        "Researchers built an artificial intelligence system that writes code.",
        "Broadband and wireless internet access spread to rural areas.",
        "The tech giant was sued over a patent for its music player.",
        "The software maker released a security patch for a flaw in its operating system.",
        "The company unveiled a new version of its database software for businesses.",
        "The internet company launched a new search service.",
        "The mobile operator launched a faster network for phones.",
        "A new computer worm spread through e-mail attachments.",
        "The company released new software tools for programmers.",
        "The electronics maker introduced new televisions and cameras.",
        "The online retailer added new features to its website.",
        "The company's servers and storage systems are aimed at large businesses.",
        "Sales of personal computers grew, the research firm said.",
        "The video game publisher released the sequel for consoles and PCs.",
        "The open-source project released a new version of its software.",
        "The wireless carrier will offer high-speed internet on its network.",
        "The technology firm sued a rival for infringing its patents.",
    ),
    "Science": (
        "A rare species of frog was found in the rainforest.",
        "The telescope captured images of a distant galaxy.",
        "Scientists warn that rising sea temperatures threaten marine life.",
        "Archaeologists unearthed the remains of an ancient settlement.",
        "The rocket carried a satellite into orbit.",
        "Researchers cloned the animal from a single cell.",
        "Hurricane forecasters expect a busy storm season.",
        "The experiment measured how the chemical reaction releases energy.",
        "Astronomers discovered a new planet orbiting a distant star.",
        "NASA launched a spacecraft to study Mars.",
        "Scientists found fossils of a previously unknown dinosaur species.",
        "Researchers say climate change is melting glaciers faster than expected.",
        "Physicists observed a new particle in the accelerator experiment.",
        "Biologists sequenced the genome of the endangered animal.",
        "The study of ancient ice cores reveals past temperatures.",
        "Astronauts aboard the space station conducted experiments.",
        "Conservationists warn that coral reefs and wildlife habitats are in decline.",
        "The probe sent back images of the comet's surface.",
        "The space agency delayed the launch of the shuttle.",
        "Scientists discovered a new species of bird in the forest.",
        "The study, published in the journal Nature, describes how the animals evolved.",
        "Researchers found water ice on the moon.",
        "A new analysis of fossils sheds light on human evolution.",
        "Scientists measured the warming of the oceans over decades.",
        "Engineers tested a new rocket engine for the mission.",
        "The space telescope observed light from the earliest galaxies.",
        "Researchers mapped the genes of the plant.",
        "Geologists studied the volcano for signs of an eruption.",
        "The satellite will monitor changes in the Earth's climate.",
        "The comet will pass close to Earth next month, astronomers say.",
    ),
    "Health": (
        "Doctors warned that a common medicine can cause serious side effects.",
        "Cases of the infection rose, and the hospital restricted visits.",
        "A new treatment helps patients with Alzheimer's disease.",
        "Children should get more exercise and eat less sugar, doctors say.",
        "The cancer screening program saves lives, a study says.",
        "Bird flu spread to humans, raising fears of a pandemic.",
        "The health insurer raised premiums for medical care.",
        "Researchers linked sleep loss to depression and weight gain.",
        "Doctors say the new drug reduces the risk of heart attacks.",
        "Health officials reported an outbreak of flu in several hospitals.",
        "A study found that obesity raises the risk of diabetes and cancer.",
        "The vaccine was approved after a clinical trial showed it was safe.",
        "Patients waited months for surgery at understaffed hospitals.",
        "Smoking and poor diet shorten life expectancy, researchers say.",
        "The virus spread quickly and infections rose among children.",
        "Regulators warned about the side effects of the painkiller.",
        "Mental health services struggle to meet demand.",
        "Nurses and physicians treat patients with the disease.",
        "Health officials urged people to get flu shots this season.",
        "The drug was approved by the Food and Drug Administration.",
        "Doctors warned that many children are overweight.",
        "A study of thousands of adults found that the treatment lowered blood pressure.",
        "The hospital reported a rise in infections among patients.",
        "Researchers say a daily pill may help prevent heart disease.",
        "The vaccine shortage left clinics without enough doses.",
        "The World Health Organization said the disease had spread to more countries.",
        "Scientists developed a new test to detect the disease early.",
        "Millions of people lack health insurance.",
        "The hospital shortened waiting times for emergency care.",
        "Exercise and a healthy diet lower the risk of diabetes.",
    ),
    "Sports": (
        "The midfielder was sent off and the side lost the derby.",
        "The sprinter set a world record in the 100 meters.",
        "The batsman hit a century as the side won the test match.",
        "The boxer knocked out his opponent in the third round.",
        "The veteran guard scored 30 points and grabbed ten rebounds.",
        "The cyclist won the stage and took the leader's jersey.",
        "The swimmer broke the Olympic record in the pool.",
        "The league suspended the player for a doping violation.",
        "The striker scored twice as the home team won the match.",
        "The quarterback threw three touchdown passes in the victory.",
        "She won the gold medal in the Olympic final.",
        "The pitcher struck out ten batters as the team clinched the playoffs.",
        "The tennis champion advanced to the semifinals of the tournament.",
        "The coach was fired after the club's losing season.",
        "The golfer shot a final-round birdie to win the championship.",
        "The driver won the Grand Prix from pole position.",
        "The team signed the star player to a new contract.",
        "Fans celebrated as the underdogs beat the defending champions.",
        "The team won the game in overtime.",
        "The champion defended her title at the open.",
        "The club signed the forward from a rival on a three-year deal.",
        "The pitcher threw a shutout as the team won its fifth straight game.",
        "The defending champion was knocked out in the second round.",
        "The striker scored the winning goal in the final minutes.",
        "The runner won the marathon in record time.",
        "The team clinched the division title with a win over its rival.",
        "The injured player will miss the rest of the season.",
        "The coach named his squad for the tournament.",
        "He won the race after leading from the start.",
        "The athletes competed for medals at the Olympic Games.",
        "The team's manager was fined after criticising the referee.",
    ),
    "Entertainment": (
        "The pop star topped the charts with her new single.",
        "The studio's animated sequel earned millions at the box office.",
        "Critics praised the actor's performance in the new drama.",
        "The reality show contestant was voted off by viewers.",
        "The rapper was nominated for a Grammy award.",
        "The network cancelled the sitcom after poor ratings.",
        "The author's memoir describes life in Hollywood.",
        "The museum opened an exhibition of the painter's work.",
        "The film topped the box office on its opening weekend.",
        "The actress won an Oscar for her leading role.",
        "The singer released a new album and announced a world tour.",
        "The television series was renewed for another season.",
        "The band played a sold-out concert to thousands of fans.",
        "The celebrity couple announced their divorce.",
        "The director's new movie premiered at the film festival.",
        "The novel became a bestseller and will be adapted for the screen.",
        "The comedian hosts a late-night talk show.",
        "The musical opened on Broadway to rave reviews.",
        "The movie star married in a private ceremony.",
        "The singer's new album debuted at number one.",
        "The television network announced its fall lineup.",
        "The actor will star in the film adaptation of the novel.",
        "The rock band announced a reunion tour.",
        "The film festival opened with the premiere of a new drama.",
        "The late-night host joked about the news.",
        "The award show honoured the year's best films and performances.",
        "The author's new novel was published to strong reviews.",
        "The hip-hop artist was arrested after the concert.",
    ),
    "World": (
        "Gunmen attacked a police station in the restive province.",
        "The rebels agreed to lay down their arms under the peace deal.",
        "Thousands fled the flooding in the country's south.",
        "The foreign minister warned of sanctions over the nuclear program.",
        "The opposition leader was arrested as protests spread in the capital.",
        "The militia seized the town after days of fighting.",
        "Aid agencies said millions face famine after the drought.",
        "The ambassador was expelled as tensions between the neighbours rose.",
        "Troops clashed with rebels near the border, killing dozens.",
        "A suicide bomber attacked a market, and militants claimed responsibility.",
        "Diplomats met at the United Nations to discuss sanctions.",
        "Foreign ministers agreed to a ceasefire in the long-running conflict.",
        "Refugees fled the fighting as the army shelled the city.",
        "The prime minister visited the neighbouring country for peace talks.",
        "Protesters demanded the resignation of the military regime.",
        "Insurgents kidnapped foreign aid workers in the capital.",
        "The earthquake killed hundreds and left thousands homeless.",
        "Leaders of the two countries signed a treaty at the summit.",
        "The country held its first elections since the war.",
        "The president of the country was sworn in for a second term.",
        "Police arrested dozens of suspects after the bombing.",
        "The United Nations said thousands of civilians had been displaced.",
        "The army launched an offensive against the rebels in the north.",
        "The government declared a state of emergency after the riots.",
        "Talks on the nuclear program ended without agreement.",
        "The hostages were freed after weeks in captivity.",
        "The storm killed dozens and destroyed thousands of homes.",
        "The prime minister called early elections.",
        "The court sentenced the former leader to prison.",
        "The two countries agreed to resume talks on their disputed border.",
    ),
}

_EMBED_TEMPERATURE = 0.05  # cosine gaps between topics are small; this spreads them into a distribution
_LEXICAL_WEIGHT = 0.5  # the two views count equally in the combination
_LEXICAL_FLOOR = 0.05  # no lexicon terms for a topic is weak evidence against it, not a veto
_TOP_PROTOTYPES = 5  # a topic's similarity: mean of its five closest prototypes (of about 30)


@cache
def _prototype_texts() -> tuple[tuple[str, ...], tuple[str, ...]]:
    topics: list[str] = []
    texts: list[str] = []
    for topic in TOPICS:
        for sentence in PROTOTYPES[topic]:
            topics.append(topic)
            texts.append(sentence)
    return tuple(topics), tuple(texts)


def prototype_matrix(embedder: Embedder) -> tuple[tuple[str, ...], np.ndarray]:
    """The topic of each prototype and their vectors (embed once, pass to ``embedding_scores``)."""
    from tidings.analysis.embeddings import embed_fixed

    topics, texts = _prototype_texts()
    return topics, embed_fixed(embedder, list(texts))


def embedding_scores(vector: np.ndarray, prototypes: tuple[Sequence[str], np.ndarray]) -> dict[str, float]:
    """Each topic's probability from cosine similarity to its closest prototypes (vectors L2-normalised)."""
    import numpy as np

    topics, matrix = prototypes
    sims = matrix @ np.asarray(vector, dtype=np.float32)
    per_topic: dict[str, float] = {}
    for topic in TOPICS:
        mine = np.sort(sims[[i for i, t in enumerate(topics) if t == topic]])[::-1][:_TOP_PROTOTYPES]
        per_topic[topic] = float(mine.mean()) if len(mine) else -1.0
    top = max(per_topic.values())
    exps = {t: math.exp((s - top) / _EMBED_TEMPERATURE) for t, s in per_topic.items()}
    total = sum(exps.values())
    return {t: e / total for t, e in exps.items()}


def combined_scores(vector: np.ndarray, title: str, text: str,
                    prototypes: tuple[Sequence[str], np.ndarray]) -> dict[str, float]:
    """Both views multiplied (a geometric mean, renormalised): a topic must be plausible to both, and the
    floor on lexical shares keeps an article without lexicon terms decided by its vector."""
    lexical = _normalised(lexical_scores(title, text))
    embedded = embedding_scores(vector, prototypes)
    logs = {t: _LEXICAL_WEIGHT * math.log(lexical[t] + _LEXICAL_FLOOR)
            + (1.0 - _LEXICAL_WEIGHT) * math.log(embedded[t] + 1e-12) for t in TOPICS}
    top = max(logs.values())
    exps = {t: math.exp(v - top) for t, v in logs.items()}
    total = sum(exps.values())
    return {t: e / total for t, e in exps.items()}


# The prototypes were written for, and checked with, this model: a vector of another model (the hashing
# embedder counts words) says nothing of them.
PROTOTYPE_MODELS = frozenset({"all-MiniLM-L6-v2"})
_EMBED_SHARE = 0.45  # the prototype view files a topic that holds this share of the probability
_EMBED_MARGIN = 1.5  # and leads the runner-up by this factor


def topic_after_analysis(vector: np.ndarray, title: str, text: str,
                         prototypes: tuple[Sequence[str], np.ndarray], regions: Sequence[str] = ()) -> str | None:
    """The topic section once the article's vector is known: the prototypes decide when they clearly point to
    one topic (on short news texts they tell topics apart better than the lexicon, see docs/quality.md); when
    they do not, the lexicon's save-time section stands (``topic_section``) where it is clear, and where neither
    view is clear alone, a topic both put first is filed; else none. ``regions`` as for ``topic_section``."""
    guess = _guess(embedding_scores(vector, prototypes), 0.0, _EMBED_SHARE, _EMBED_MARGIN)
    if guess.confident:
        return _desk(guess.topic, regions)
    lexical = topic_lexical(title, text)
    if lexical.confident or lexical.topic == guess.topic:  # neither view clear alone, but the two agree
        return _desk(lexical.topic, regions)
    return None


def topic_with_embedding(vector: np.ndarray, title: str, text: str,
                         prototypes: tuple[Sequence[str], np.ndarray]) -> TopicGuess:
    """The topic from both views (for the analysis step, which has the article's vector)."""
    return _guess(combined_scores(vector, title, text, prototypes), 0.0, 0.45, 1.5)
