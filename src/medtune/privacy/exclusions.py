"""Words that look like names or places but are medicine: eponyms, drug names, clinical vocabulary.

Curated here because no maintained offline package lists them; kept small and lower-case. A token in these
sets is never a name or place on its own; a clear name context ("Dr.", "Mr.", a first name before it) can
still make it one ("Dr. Foley", "James Parkinson").
"""

from __future__ import annotations

import re


def words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Eponyms used as disease, sign, test, device or procedure names ("Parkinson's disease", "Foley catheter").
EPONYMS = words(
    """
    stupp folfox folfiri folfirinox recist
    addison alzheimer ambu apgar asperger babinski barre barrett barretts billroth blalock bosniak bovie
    bowen braxton breslow broviac brown-sequard brudzinski brugada budd buerger burkitt caprini charcot
    cheyne-stokes chiari cormack coude crohn crohns dandy dobhoff doppler dressler dresslers dupuytren
    ebstein epley epstein-barr ewing ewings fallot finkelstein foley fowler frank-starling glasgow
    gleason gram groshong guillain guillain-barre hartmann hashimoto heimlich hemovac hickman
    hirschsprung hodgkin holter horner horners huntington jackson-pratt kaposi kawasaki kerley kernig
    killip klinefelter kocher korotkoff korsakoff kussmaul lachman legg-calve-perthes lyme malecot
    mallampati mallory marfan mcburney mcmurray meckel meckels meniere mobitz nelaton nissen
    osgood-schlatter paget pagets papanicolaou parkinson parkinsons penrose pfannenstiel phalen pott
    purkinje raynaud raynauds reiter romberg roux-en-y rovsing schilling semi-fowler sengstaken
    sengstaken-blakemore sjogren spurling starling stevens-johnson stryker swan-ganz tay-sachs tenckhoff
    tinel tourette trendelenburg valsalva venturi virchow wenckebach wernicke whipple willebrand wilms
    wolff-parkinson-white wright-giemsa yankauer yergason zenker ziehl-neelsen
    """
)

# Drug names (generic and brand) that are also surnames, first names or places, plus frequent ones.
DRUGS = words(
    """
    abilify adderall advair advil albuterol aldactone aleve allegra altace ambien amiodarone aricept
    arimidex aspirin ativan atrovent augmentin avastin bactrim bactroban benadryl boost bumex buspar
    calcium cardizem catapres celexa cellcept chlorthalidone cipro claritin clonidine colace compazine
    cordarone coreg coumadin cozaar crestor cymbalta decadron demadex depakote diflucan digoxin dilantin
    dilaudid diovan dulcolax duoneb effexor eliquis enbrel ensure entresto epogen farxiga fentanyl
    flagyl flomax folate gleevec glucerna glucophage haldol hctz heparin herceptin humalog humira
    hydralazine imdur imodium insulin iron januvia jardiance jevity kayexalate kcl keflex keppra
    keytruda labetalol lamictal lanoxin lantus lasix levaquin levemir levothyroxine lexapro lipitor
    lisinopril lithium lokelma lopressor losartan lovenox lyrica maalox macrobid magnesium medrol
    metformin miralax mirapex morphine motrin mylanta naloxone namenda narcan neosporin neulasta
    neurontin nexium nitro nitroglycerin norco norvasc novolog opdivo ozempic paxil pepcid percocet
    phenergan plavix potassium pravachol prednisone prilosec prinivil proair procrit prograf proscar
    protonix prozac rapamune reglan remicade renvela requip risperdal ritalin rituxan rocephin senna
    seroquel sevelamer silvadene sinemet singulair solumedrol spiriva spironolactone symbicort synthroid
    tamiflu tamoxifen tegretol thiamine toprol trazodone trulicity tums tylenol valium vancomycin
    vasotec ventolin victoza vitamin warfarin wellbutrin xanax xarelto zaroxolyn zestril zithromax zocor
    zofran zoloft zosyn zyprexa zyrtec
    """
)

# Capitalised clinical vocabulary and note headings that collide with names or places in dictionaries.
CLINICAL = words(
    """
    abdomen account activity acute address admission admit admitted adrenal afebrile afternoon age
    agreed agrees alert allergies allergy am ambulated ambulating anterior april arrived asked
    assessment attending august awake aware back bay bed bedside bilateral billing bladder blood bmi
    bolus bone bones brain breast brother brought call called came capsule cardiac cardiology care
    caregiver catheter cc ccu chest chief chloride chronic claim class classification clear clinic
    clinic's cna colon complains complaint condition consult consultation contact continue continued
    continues copy count course creatinine criteria ct culture cultures cxr cycle cycles daily date
    daughter day days dear december declined decrease denied denies department dermatology diagnoses
    diagnosis dictated diet discharge disease disease's diseases disposition do doa dob doctor dod dos
    dose dr drip ecg echo ed edema ekg electronically email emergency endocrinology endorses er
    evaluated evening exam examination extremities extubated family father fax february fellow female
    findings floor fluids follow follow-up followup friday friend gastroenterology general gentleman gi
    given glucose grade group gu guardian gynecology head heart heent height hematocrit hemoglobin
    hepatic here history hold hospital hour hours husband icu imaging impression increase infectious
    informed infusion input instructions insurance intake intern intravenous intubated january july june
    kidney kidneys laboratory labs lady left lesion lesions liver lower lpn lung lungs lymph lymphoma
    male man maneuver march marrow mass may md medicaid medical medicare medication medications medicine
    member metastases metastasis micu midnight mild miss moderate monday monitor month months morning
    mother mr mri mrn mrs ms murmur musculoskeletal neck negative nephrology neuro neurology nicu night
    node nodes noon normal note noted notes notified november np nurse nursing obstetrics october old
    oncology operation operative or oral oriented orthopedics output ovaries ovary oxygen pa pacu pain
    pancreas partner past pathology patient payer payor pediatrics pelvis peritoneum phone physical
    physician picu placed plan planning plans platelets please pleura pleural pm policy positive post
    posterior potassium present pressure primary prior procedure procedures progress prostate provider
    psych psychiatry pt pulmonary pulmonology race radiology rate reason received receiving recent
    rectum referral referred reflex refused regards regular remained remains renal report reports
    requested requests resident respiratory response resting result results return review reviewed
    rheumatology rhythm right rn room saline sarcoma saturation saturday saw scale scan score sedated
    seen sensitivity september service severe sex sicu sign signed signs sincerely sister skin sleeping
    sliding social sodium soft son spine spoke spouse ssn stable stage staging start stated states
    status stomach stool stop study subcutaneous sugar summary sunday surgery surgical syndrome systems
    tablet team temperature test thank thanks thursday thyroid titrate today tolerated tolerating
    tomorrow tonight transcribed tuesday tumor tumour twice type ultrasound unit unstable updated upper
    urine urology vent ventilator visited visiting vital vitals voiding wants ward wean wednesday week
    weeks weight wife woman wound x-ray xray year years yesterday yo you your yours
    """
)

# Common English words that are also first names or surnames in name dictionaries: a name only in context.
COMMON_WORDS = words(
    """
    a al all amber an and angel any apple april are art as at august autumn avg ball be been bell berry
    best bi bill black bloom bo bob branch bright brown buck bush by ca can candy carry case cash chance
    cherry church clear co coal company constance cross crystal da dawn day de deep del destiny di
    diamond did do doctor does don du dusty early earnest east eight el else faith fall field first five
    floor flower foot for four frank from frost gale gay glass gold good grace gray green grey gross
    guest gun guy ha had hall happy harmony has have hay hazel heart heath hill ho honey honor hood hook
    hope house hu hurt i in iris is ivy jade jay jewel job joy june justice key ki kind king ko ku la
    lab labs lake lamb land lane last law lay le less li liberty light lily line little lo long lot love
    lovely low lu ma mac mae major marine mark max may mc med meds meek melody mercy mi mill min misty
    mo moody moon more mu my na neat nest new next ng ni nine no noble north not nu of old olive on one
    or pa page parent paris park pat patience pearl penny per person pi pike po pond pool poor post
    power price prince prudence quick rain rank ray read real redd rice rich rider ring ro rock rose ru
    ruby ruff rush rust rusty sa sage saint salt sand sandy save se sea see seven shade shell ship shoe
    shore short si silver six sky small snow so sole some son south spear speed spoon spring squire st
    stamp star steel sterling still stone storm story strange street strong su sue sugar summer sun
    sunny sweet swift ta tall tank te tea ten the thorn three ti to tower tree trim trinity tu tuck two
    unity us va vale van ve vi vine vo von walk wall ware was wash waters way were west wheat white wild
    will wing winter wise with wolf wood woods worth ya yard ye yes young yu
    hence held supple trace said made ran
    """
)

# Upper-case abbreviations common in notes; never a name when they stand alone in upper-case text.
ABBREVIATIONS = words(
    """
    abd abg ac ace acls adl adls afib aki alp alt am ama amb amp amps amt aox3 aox4 ap ard ards asa ast
    bcx bid bipap bm bmp bp bpm bs bsa bun c/o cabg cad cbc cbg ccu cdt chf ckd cm cmp cns copd cpap cpr
    crp csf cst ct cta cv cva cvp cxr d/c d5 d5w dc ddx dka dm dni dnr doa dod dos dvt dx ecg ed edt eeg
    ekg ent er esr est etoh ett f/u fen fio2 fx gcs gerd gi gmt gtt gu h/o hct hd hep hg hgb hr hs htn
    hx iabp icd ich icp icu id im inr io ip iu iv ivf jp jvd kg kub kvo lad lb lbs lft lfts lle llq loc
    lr lue luq lvad lvef mae map mcg mcv mdt meq mg mi ml mls mm mmol mri mrsa ms mst na neb ng ngt nicu
    npo ns nsr nstemi nt ntd ny ob od op or os pa pacu pca pci pcp pdt pe peep peg perrl perrla picc plt
    pm pmh pna po pr prbc prn pst pt ptca ptt pvc qd qhs qid qod r/o rbc rll rlq rn rr rrr rue ruq rx
    s/p sah sbp sdh sob sq ssi stat stemi svt sx tee tia tid tko tpn tte tx ua ucx uop us usa utc uti va
    vap vs vss w/ w/o wbc wnl y/o yo
    """
)

# Phrases of eponyms that are medical whatever follows ("Murphy's sign", "Wilson's disease").
_FOLLOWERS_STRONG = (
    r"disease|syndrome|sign|test|maneuver|manoeuvre|catheter|tube|drain|reflex|criteria|score|scale|"
    r"classification|lymphoma|sarcoma|palsy|ulcer|fracture|dementia|chorea|tumou?r|coma|encephalopathy|"
    r"thyroiditis|dystrophy|contracture|esophagus|hump|protocol|regimen|anomaly|disorder|aneurysm|"
    r"anastomosis|forceps|murmur|nodes?|cyst|hernia|neuralgia|neuroma|phenomenon"
)
_FOLLOWERS_WEAK = (
    r"stage|grade|position|procedure|operation|pouch|repair|law|triad|bodies|cells?|stitch|incision|point|"
    r"respiration|breathing|block|rhythm|space|line|lines|body|type|method|technique|equation|formula|rule"
)
# Words after an eponym that make it medical: "Wilson disease", "Murphy's sign", "Starling's law".
EPONYM_FOLLOWERS = re.compile(
    rf"\s*(?:(?:'s|’s|s')\s+(?:{_FOLLOWERS_STRONG}|{_FOLLOWERS_WEAK})|\s+(?:{_FOLLOWERS_STRONG}))\b",
    re.IGNORECASE,
)

NOT_A_NAME = EPONYMS | DRUGS | CLINICAL | ABBREVIATIONS


def is_medical_word(word: str) -> bool:
    return word.lower().strip(".'’") in NOT_A_NAME
