import ArgumentParser

/// The languages a report's own words come in. Adding one: a case here and its column in `Words.table`.
enum Language: String, ExpressibleByArgument, CaseIterable {
    case en, fr, ar

    var rightToLeft: Bool { self == .ar }
}

/// A report's own words in one language: `words(.key, "a", "b")` fills {1}, {2}, … in order.
struct Words {
    let language: Language

    func callAsFunction(_ key: Key, _ values: String...) -> String {
        var text = Self.table[key]?[language] ?? Self.table[key]?[.en] ?? key.rawValue
        for (index, value) in values.enumerated() { text = text.replacingOccurrences(of: "{\(index + 1)}", with: value) }
        return text
    }

    /// A share as a person reads it: a whole percentage, one decimal under 10 %.
    func percent(_ share: Double) -> String {
        let value = share * 100
        let text = value != 0 && abs(value) < 10 && value != value.rounded() ? number(value, places: 1) : String(Int(value.rounded()))
        return language == .fr ? "\(text) %" : "\(text)%"
    }

    /// A number with at most `places` decimals, the language's decimal separator.
    func number(_ value: Double, places: Int) -> String {
        var text = String(format: "%.\(places)f", value)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return language == .fr ? text.replacingOccurrences(of: ".", with: ",") : text
    }

    /// Items of a list, and lists of lists, joined as the language punctuates them.
    func list(_ items: [String]) -> String { items.joined(separator: language == .ar ? "، " : ", ") }
    func lists(_ items: [String]) -> String { items.joined(separator: language == .ar ? "؛ " : "; ") }

    /// The template `key` as HTML, its own words escaped and {1}, {2}, … filled with `markup`, which
    /// is HTML already (data values isolated in `<bdi>` by `Naming.Name.html`, or `escaped` figures).
    func html(_ key: Key, _ markup: String...) -> String {
        var text = ReportContent.escape(self(key))
        for (index, value) in markup.enumerated() { text = text.replacingOccurrences(of: "{\(index + 1)}", with: value) }
        return text
    }

    /// The report's own word for a common dimension ("age" → "âge"), nil for others.
    func knownDimension(_ code: String) -> String? {
        Key(rawValue: "dimension." + code).map { self($0) }
    }

    /// The name of an audit criterion, a status, a verdict, a kind of organisation: the table's word, or the code.
    func name(_ code: String) -> String {
        Key(rawValue: "code." + code).map { self($0) } ?? code.replacingOccurrences(of: "_", with: " ")
    }

    enum Key: String, CaseIterable {
        case title, convenedBy, window, closedEarly, inShort
        case sOrganisations, sAffected, sLeastHeard, sLeastHeardItem, sUnheard, sAllHeard
        case sMeaningful, sPartial, sTokenistic, sNotYet, sFeedback, sNoFeedback, sOutcome, sNoOutcome
        case weAsked, youSaid, weDid, stages, languages, population, group, populationShare
        case byKind, kindOfOrganisation, submissions, share, voiceAgainstPopulation, voiceLegend, ratioTitle, ratioLegend
        case nobody, topics, noTopics, overTime, overTimeLegend, outcome, citedCount, feedback, audit
        case criterion, value, threshold, result, why, glossary, about, position, checkpoint, noCheckpoint, policy
        case suppressionOn, suppressionNothing, suppressionOff, withheld, fewerThan, made, index, verdict, convener
        case gSubmission, gAffectedLed, gVoiceShare, gPopulationShare, gRatio, gRepresentativeness, gCoverage
        case gEffectiveVoices, gFeedbackRate, gInfluenceRate, gStageCoverage, gVerdicts, gSuppression, gCheckpoint
        case tSubmission, tAffectedLed, tVoiceShare, tPopulationShare, tRatio, tRepresentativeness, tCoverage
        case tEffectiveVoices, tFeedbackRate, tInfluenceRate, tStageCoverage, tVerdicts, tSuppression, tCheckpoint
        case nyNoSubmissions, nyFeedbackFrom, nyNoGroups, nyNoStages
        case codeAffected = "code.affected_led_share", codeRepresentativeness = "code.representativeness"
        case codeCoverage = "code.coverage", codeEffective = "code.effective_voices", codeFeedback = "code.feedback_rate"
        case codeInfluence = "code.influence_rate", codeStages = "code.stage_coverage", codeWindow = "code.window_days"
        case codePass = "code.pass", codeFail = "code.fail", codeInsufficient = "code.insufficient_data"
        case codeMeaningful = "code.meaningful", codePartial = "code.partial", codeTokenistic = "code.tokenistic"
        case codeCommunity = "code.community_based", codeNGO = "code.ngo", codeINGO = "code.international_ngo"
        case codeFaith = "code.faith_based", codeUnion = "code.trade_union", codeAcademic = "code.academic"
        case codePrivate = "code.private_sector", codeAuthority = "code.local_authority", codeNHRI = "code.nhri"
        case codeNetwork = "code.network", codeOther = "code.other", codeUnknown = "code.unknown"
        case codeDesign = "code.design", codeImplementation = "code.implementation", codeMonitoring = "code.monitoring"
        case codeEvaluation = "code.evaluation"
        case dimensionAge = "dimension.age", dimensionGender = "dimension.gender", dimensionSex = "dimension.sex"
        case dimensionCountry = "dimension.country_of_origin", dimensionNationality = "dimension.nationality"
        case dimensionLanguage = "dimension.language", dimensionDisability = "dimension.disability"
        case under, voiceItem, ratioItem, overTimeAlt, markPass, markFail, markInsufficient, cosigned
    }

    // One row per key: English, French, Arabic.
    static let table: [Key: [Language: String]] = {
        let rows: [(Key, String, String, String)] = [
            (.title, "Consultation report: {1}", "Rapport de consultation : {1}", "تقرير المشاورة: {1}"),
            (.convenedBy, "Convened by {1}", "Organisée par {1}", "بدعوة من {1}"),
            (.window, "Open from {1} to {2}", "Ouverte du {1} au {2}", "مفتوحة من {1} إلى {2}"),
            (.closedEarly, "closed early on {1}", "close par anticipation le {1}", "أُغلقت مبكرًا في {1}"),
            (.inShort, "In short", "En bref", "باختصار"),
            (.sOrganisations, "{1} organisations sent {2} submissions.", "{1} organisations ont envoyé {2} contributions.",
             "أرسلت {1} منظمة {2} مساهمة."),
            (.sAffected, "{1} of the submissions came from organisations led by the people affected.",
             "{1} des contributions venaient d’organisations dirigées par les personnes concernées.",
             "جاءت {1} من المساهمات من منظمات يقودها المتأثرون أنفسهم."),
            (.sLeastHeard, "Heard least: {1}.", "Les moins entendus : {1}.", "الأقل إسماعًا لصوتهم: {1}."),
            (.sLeastHeardItem, "{1} ({2}), heard at {3} of their share of the population",
             "{1} ({2}), entendus à {3} de leur part de la population", "{1} ({2})، بنسبة {3} من حصتهم في السكان"),
            (.sUnheard, "Nobody spoke for: {1}.", "Personne n’a parlé pour : {1}.", "لم يتحدث أحد باسم: {1}."),
            (.sAllHeard, "Every group of the population was heard at least at {1} of its share.",
             "Chaque groupe de la population a été entendu au moins à {1} de sa part.",
             "سُمع صوت كل فئة من السكان بنسبة {1} على الأقل من حصتها."),
            (.sMeaningful, "Verdict: meaningful. The consultation met every criterion of the audit.",
             "Verdict : significative. La consultation remplit tous les critères de l’audit.",
             "الحكم: مشاركة فعلية. استوفت المشاورة جميع معايير التدقيق."),
            (.sPartial, "Verdict: partial. It met {1} of {2} criteria; it fell short on {3}.",
             "Verdict : partielle. Elle remplit {1} critères sur {2} ; elle reste en deçà pour {3}.",
             "الحكم: جزئية. استوفت {1} من {2} معايير، وقصّرت في {3}."),
            (.sTokenistic, "Verdict: tokenistic. People were asked but not answered: too little feedback, and the outcome cites too few submissions ({1}).",
             "Verdict : de façade. On a demandé sans répondre : trop peu de retours, et le résultat cite trop peu de contributions ({1}).",
             "الحكم: شكلية. طُرح السؤال ولم يأتِ الرد: ردود قليلة جدًا، والنتيجة لا تستشهد إلا بالقليل من المساهمات ({1})."),
            (.sNotYet, "Not yet judged: {1}.", "Pas encore jugé : {1}.", "لم يُحكم بعد على: {1}."),
            (.sFeedback, "{1} of the submissions received feedback, after {2} days on median.",
             "{1} des contributions ont reçu un retour, après {2} jours en médiane.",
             "تلقّت {1} من المساهمات ردًا، بعد {2} يوم في الوسيط."),
            (.sNoFeedback, "No submission has received feedback yet.", "Aucune contribution n’a encore reçu de retour.",
             "لم تتلقَّ أي مساهمة ردًا حتى الآن."),
            (.sOutcome, "The published outcome cites {1} of the submissions.", "Le résultat publié cite {1} des contributions.",
             "تستشهد النتيجة المنشورة بـ {1} من المساهمات."),
            (.sNoOutcome, "No outcome has been published yet.", "Aucun résultat n’a encore été publié.", "لم تُنشر أي نتيجة بعد."),
            (.weAsked, "We asked", "Nous avons demandé", "سألنا"),
            (.youSaid, "You said", "Vous avez dit", "قلتم"),
            (.weDid, "We did", "Nous avons fait", "فعلنا"),
            (.stages, "Stages of the cycle", "Étapes du cycle", "مراحل الدورة"),
            (.languages, "Languages", "Langues", "اللغات"),
            (.population, "The population concerned", "La population concernée", "السكان المعنيون"),
            (.group, "Group", "Groupe", "الفئة"),
            (.populationShare, "Share of the population", "Part de la population", "الحصة من السكان"),
            (.byKind, "Who took part, by kind of organisation", "Qui a participé, par type d’organisation", "من شارك، حسب نوع المنظمة"),
            (.kindOfOrganisation, "Kind of organisation", "Type d’organisation", "نوع المنظمة"),
            (.submissions, "Submissions", "Contributions", "المساهمات"),
            (.share, "Share", "Part", "الحصة"),
            (.voiceAgainstPopulation, "Voice against population: {1}", "Voix et population : {1}", "الصوت مقارنة بالسكان: {1}"),
            (.voiceLegend, "dark: share of the voices; light: share of the population", "foncé : part des voix ; clair : part de la population",
             "الداكن: حصة الأصوات؛ الفاتح: الحصة من السكان"),
            (.ratioTitle, "Representation ratio: {1}", "Ratio de représentation : {1}", "نسبة التمثيل: {1}"),
            (.ratioLegend, "1 = heard in proportion; short of the dashed line ({1}): under-represented, marked ▼; past 1: over-represented",
             "1 = entendu en proportion ; avant la ligne pointillée ({1}) : sous-représenté, marqué ▼ ; au-delà de 1 : surreprésenté",
             "1 = سُمع بالتناسب؛ قبل الخط المتقطع ({1}): ممثَّل تمثيلًا ناقصًا، ومُعلَّم بـ ▼؛ بعد 1: ممثَّل تمثيلًا زائدًا"),
            (.under, "under-represented", "sous-représenté", "ممثَّل تمثيلًا ناقصًا"),
            (.voiceItem, "{1}: {2} of the voices, {3} of the population", "{1} : {2} des voix, {3} de la population",
             "{1}: {2} من الأصوات، {3} من السكان"),
            (.ratioItem, "{1}: {2}", "{1} : {2}", "{1}: {2}"),
            (.overTimeAlt, "Submissions per day from {1} to {2}; the busiest day had {3}.",
             "Contributions par jour du {1} au {2} ; le jour le plus chargé en a compté {3}.",
             "المساهمات يوميًا من {1} إلى {2}؛ وبلغت في أكثر الأيام {3}."),
            (.markPass, "✓", "✓", "✓"),
            (.markFail, "✗", "✗", "✗"),
            (.markInsufficient, "…", "…", "…"),
            (.dimensionAge, "age", "âge", "العمر"),
            (.dimensionGender, "gender", "genre", "النوع الاجتماعي"),
            (.dimensionSex, "sex", "sexe", "الجنس"),
            (.dimensionCountry, "country of origin", "pays d’origine", "بلد المنشأ"),
            (.dimensionNationality, "nationality", "nationalité", "الجنسية"),
            (.dimensionLanguage, "language", "langue", "اللغة"),
            (.dimensionDisability, "disability", "handicap", "الإعاقة"),
            (.nobody, "nobody", "personne", "لا أحد"),
            (.topics, "Topics raised", "Thèmes abordés", "المواضيع المطروحة"),
            (.noTopics, "No topics were given.", "Aucun thème n’a été indiqué.", "لم تُذكر أي مواضيع."),
            (.overTime, "Submissions and feedback over time", "Contributions et retours dans le temps", "المساهمات والردود عبر الزمن"),
            (.overTimeLegend, "dark: submissions per day; orange: first feedback per day; busiest day: {1}",
             "foncé : contributions par jour ; orange : premiers retours par jour ; jour le plus chargé : {1}",
             "الداكن: المساهمات يوميًا؛ البرتقالي: أول رد يوميًا؛ أكثر الأيام: {1}"),
            (.outcome, "The outcome", "Le résultat", "النتيجة"),
            (.citedCount, "It cites {1} submissions.", "Il cite {1} contributions.", "تستشهد بـ {1} مساهمة."),
            (.feedback, "Feedback", "Retours", "الردود"),
            (.audit, "The audit, criterion by criterion", "L’audit, critère par critère", "التدقيق معيارًا معيارًا"),
            (.criterion, "Criterion", "Critère", "المعيار"),
            (.value, "Value", "Valeur", "القيمة"),
            (.threshold, "Threshold", "Seuil", "العتبة"),
            (.result, "Result", "Résultat", "النتيجة"),
            (.why, "Why", "Pourquoi", "السبب"),
            (.glossary, "Words used here", "Les mots employés", "المصطلحات المستخدمة"),
            (.about, "About this report", "À propos de ce rapport", "عن هذا التقرير"),
            (.position, "Computed at log position {1}.", "Calculé à la position {1} du journal.", "حُسب عند الموضع {1} من السجل."),
            (.checkpoint, "Signed checkpoint: the first {1} events, root {2}, key {3}, signature {4}.",
             "Point de contrôle signé : les {1} premiers événements, racine {2}, clé {3}, signature {4}.",
             "نقطة تحقق موقّعة: أول {1} حدث، الجذر {2}، المفتاح {3}، التوقيع {4}."),
            (.cosigned, "Cosigned by {1} witnesses: each checked that this checkpoint extends every one it cosigned before.",
             "Cosigné par {1} témoins : chacun a vérifié que ce point de contrôle prolonge tous ceux qu’il avait cosignés.",
             "وقّعه معًا {1} من الشهود: تحقّق كلٌّ منهم من أن نقطة التحقق هذه تمدّد كل نقطة سبق أن وقّعها."),
            (.noCheckpoint, "No signed checkpoint covers this position yet.", "Aucun point de contrôle signé ne couvre encore cette position.",
             "لا توجد بعد نقطة تحقق موقّعة تغطي هذا الموضع."),
            (.policy, "Audit policy: {1}.", "Politique d’audit : {1}.", "سياسة التدقيق: {1}."),
            (.suppressionOn, "Numbers from fewer than {1} submissions are withheld ({2} values).",
             "Les nombres issus de moins de {1} contributions sont masqués ({2} valeurs).",
             "حُجبت الأرقام المستمدة من أقل من {1} مساهمات ({2} قيمة)."),
            (.suppressionNothing, "Numbers from fewer than {1} submissions would be withheld; none needed to be.",
             "Les nombres issus de moins de {1} contributions seraient masqués ; aucun ne l’a été.",
             "كانت الأرقام المستمدة من أقل من {1} مساهمات ستُحجب؛ ولم يلزم حجب أي منها."),
            (.suppressionOff, "Small numbers are not withheld: for internal use only, not for publication.",
             "Les petits nombres ne sont pas masqués : usage interne uniquement, pas pour publication.",
             "لم تُحجب الأرقام الصغيرة: للاستخدام الداخلي فقط، لا للنشر."),
            (.withheld, "withheld", "masqué", "محجوب"),
            (.fewerThan, "fewer than {1}", "moins de {1}", "أقل من {1}"),
            (.made, "Report made {1}.", "Rapport établi le {1}.", "أُعدّ التقرير في {1}."),
            (.index, "Consultation reports", "Rapports de consultation", "تقارير المشاورات"),
            (.verdict, "Verdict", "Verdict", "الحكم"),
            (.convener, "Convener", "Organisateur", "الجهة الداعية"),
            (.gSubmission, "Submission", "Contribution", "المساهمة"),
            (.tSubmission, "What an organisation sent: a text and the groups it speaks for. A withdrawn submission does not count.",
             "Ce qu’une organisation a envoyé : un texte et les groupes pour lesquels il parle. Une contribution retirée ne compte pas.",
             "ما أرسلته منظمة: نص والفئات التي يتحدث باسمها. لا تُحتسب المساهمة المسحوبة."),
            (.gAffectedLed, "Led by the people affected", "Dirigée par les personnes concernées", "يقودها المتأثرون"),
            (.tAffectedLed, "An organisation led by refugees, migrants, stateless or diaspora people, as registered.",
             "Une organisation dirigée par des personnes réfugiées, migrantes, apatrides ou de la diaspora, selon son enregistrement.",
             "منظمة يقودها لاجئون أو مهاجرون أو عديمو جنسية أو أبناء الشتات، وفق تسجيلها."),
            (.gVoiceShare, "Share of the voices", "Part des voix", "حصة الأصوات"),
            (.tVoiceShare, "The share of the submissions that speak for a group; one speaking for two groups counts half for each.",
             "La part des contributions qui parlent pour un groupe ; une contribution pour deux groupes compte pour moitié dans chacun.",
             "حصة المساهمات التي تتحدث باسم فئة؛ والمساهمة التي تتحدث باسم فئتين تُحتسب نصفًا لكل منهما."),
            (.gPopulationShare, "Share of the population", "Part de la population", "الحصة من السكان"),
            (.tPopulationShare, "The group's share of the population concerned, as the convener declared it.",
             "La part du groupe dans la population concernée, telle que déclarée par l’organisateur.",
             "حصة الفئة من السكان المعنيين كما أعلنتها الجهة الداعية."),
            (.gRatio, "Representation ratio", "Ratio de représentation", "نسبة التمثيل"),
            (.tRatio, "Share of the voices divided by share of the population: 1 is in proportion, under {1} under-represented, over 1 over-represented.",
             "Part des voix divisée par part de la population : 1 est proportionnel, sous {1} sous-représenté, au-dessus de 1 surreprésenté.",
             "حصة الأصوات مقسومة على الحصة من السكان: 1 تناسب، وأقل من {1} تمثيل ناقص، وأكثر من 1 تمثيل زائد."),
            (.gRepresentativeness, "Representativeness", "Représentativité", "التمثيلية"),
            (.tRepresentativeness, "100% when the voices mirror the population; it falls by half the total gap between the two sets of shares.",
             "100 % quand les voix reflètent la population ; elle baisse de la moitié de l’écart total entre les deux séries de parts.",
             "100% عندما تعكس الأصوات السكان؛ وتنخفض بمقدار نصف الفرق الكلي بين مجموعتي الحصص."),
            (.gCoverage, "Coverage", "Couverture", "التغطية"),
            (.tCoverage, "The share of the population's groups that were heard at all.", "La part des groupes de la population qui ont été entendus.",
             "حصة فئات السكان التي سُمع صوتها أصلًا."),
            (.gEffectiveVoices, "Effective number of voices", "Nombre effectif de voix", "العدد الفعلي للأصوات"),
            (.tEffectiveVoices, "How many equally active organisations would spread the submissions the same way; few means a few organisations dominate.",
             "Combien d’organisations également actives répartiraient les contributions de la même façon ; peu signifie que quelques-unes dominent.",
             "عدد المنظمات المتساوية النشاط التي توزع المساهمات بالطريقة نفسها؛ والعدد القليل يعني هيمنة قلة من المنظمات."),
            (.gFeedbackRate, "Feedback given", "Retours donnés", "الردود المقدّمة"),
            (.tFeedbackRate, "The share of submissions that got feedback from the convener.", "La part des contributions qui ont reçu un retour de l’organisateur.",
             "حصة المساهمات التي تلقت ردًا من الجهة الداعية."),
            (.gInfluenceRate, "Influence on the outcome", "Influence sur le résultat", "التأثير في النتيجة"),
            (.tInfluenceRate, "The share of submissions that the published outcome cites.", "La part des contributions que le résultat publié cite.",
             "حصة المساهمات التي تستشهد بها النتيجة المنشورة."),
            (.gStageCoverage, "Stages of the cycle covered", "Étapes du cycle couvertes", "مراحل الدورة المغطاة"),
            (.tStageCoverage, "The share of the consultation's stages (design, implementation, monitoring, evaluation) that submissions spoke to.",
             "La part des étapes de la consultation (conception, mise en œuvre, suivi, évaluation) abordées par les contributions.",
             "حصة مراحل المشاورة (التصميم، التنفيذ، الرصد، التقييم) التي تناولتها المساهمات."),
            (.gVerdicts, "Meaningful, partial, tokenistic", "Significative, partielle, de façade", "فعلية، جزئية، شكلية"),
            (.tVerdicts, "Meaningful: every criterion met. Tokenistic: neither feedback nor influence on the outcome. Partial: in between.",
             "Significative : tous les critères remplis. De façade : ni retours ni influence sur le résultat. Partielle : entre les deux.",
             "فعلية: استيفاء كل المعايير. شكلية: لا ردود ولا تأثير في النتيجة. جزئية: بين الاثنين."),
            (.gSuppression, "Withheld", "Masqué", "محجوب"),
            (.tSuppression, "A number computed from fewer than {1} submissions is withheld, with a neighbour if needed, so that nobody in a small group can be singled out.",
             "Un nombre issu de moins de {1} contributions est masqué, avec un voisin si besoin, pour que personne dans un petit groupe ne puisse être identifié.",
             "يُحجب الرقم المستمد من أقل من {1} مساهمات، ومعه رقم مجاور عند الحاجة، كي لا يمكن تمييز أحد في فئة صغيرة."),
            (.gCheckpoint, "Signed checkpoint", "Point de contrôle signé", "نقطة تحقق موقّعة"),
            (.tCheckpoint, "A fingerprint of the record up to this report, signed by the operator: keep it to check later that nothing was changed.",
             "Une empreinte du registre jusqu’à ce rapport, signée par l’opérateur : gardez-la pour vérifier plus tard que rien n’a changé.",
             "بصمة للسجل حتى هذا التقرير موقّعة من المشغّل: احتفظ بها لتتحقق لاحقًا من أنه لم يتغير شيء."),
            (.nyNoSubmissions, "no submissions yet (withdrawn ones do not count)", "pas encore de contribution (les retirées ne comptent pas)",
             "لا مساهمات بعد (لا تُحتسب المسحوبة)"),
            (.nyFeedbackFrom, "judged from {1}: {2} days after the close ({3})", "jugé à partir du {1} : {2} jours après la clôture ({3})",
             "يُحكم عليه ابتداءً من {1}: بعد {2} يومًا من الإغلاق ({3})"),
            (.nyNoGroups, "not every dimension has a submission that names one of its groups",
             "toutes les dimensions n’ont pas une contribution qui nomme l’un de leurs groupes",
             "ليس لكل بُعد مساهمة تذكر إحدى فئاته"),
            (.nyNoStages, "the consultation names no stages", "la consultation ne nomme aucune étape", "لا تذكر المشاورة أي مرحلة"),
            (.codeAffected, "Organisations led by the people affected", "Organisations dirigées par les personnes concernées", "منظمات يقودها المتأثرون"),
            (.codeRepresentativeness, "Representativeness", "Représentativité", "التمثيلية"),
            (.codeCoverage, "Coverage of the population's groups", "Couverture des groupes de la population", "تغطية فئات السكان"),
            (.codeEffective, "Effective number of voices", "Nombre effectif de voix", "العدد الفعلي للأصوات"),
            (.codeFeedback, "Feedback given", "Retours donnés", "الردود المقدّمة"),
            (.codeInfluence, "Influence on the outcome", "Influence sur le résultat", "التأثير في النتيجة"),
            (.codeStages, "Stages of the cycle covered", "Étapes du cycle couvertes", "مراحل الدورة المغطاة"),
            (.codeWindow, "Days open", "Jours d’ouverture", "أيام الانفتاح"),
            (.codePass, "met", "rempli", "مستوفى"),
            (.codeFail, "not met", "non rempli", "غير مستوفى"),
            (.codeInsufficient, "not yet judged", "pas encore jugé", "لم يُحكم بعد"),
            (.codeMeaningful, "meaningful", "significative", "فعلية"),
            (.codePartial, "partial", "partielle", "جزئية"),
            (.codeTokenistic, "tokenistic", "de façade", "شكلية"),
            (.codeCommunity, "community-based organisations", "organisations communautaires", "منظمات مجتمعية"),
            (.codeNGO, "national NGOs", "ONG nationales", "منظمات غير حكومية وطنية"),
            (.codeINGO, "international NGOs", "ONG internationales", "منظمات غير حكومية دولية"),
            (.codeFaith, "faith-based organisations", "organisations confessionnelles", "منظمات دينية"),
            (.codeUnion, "trade unions", "syndicats", "نقابات"),
            (.codeAcademic, "academia", "milieu universitaire", "مؤسسات أكاديمية"),
            (.codePrivate, "private sector", "secteur privé", "القطاع الخاص"),
            (.codeAuthority, "local authorities", "autorités locales", "سلطات محلية"),
            (.codeNHRI, "human rights institutions", "institutions des droits humains", "مؤسسات حقوق الإنسان"),
            (.codeNetwork, "networks", "réseaux", "شبكات"),
            (.codeOther, "others", "autres", "أخرى"),
            (.codeUnknown, "not registered", "non enregistrées", "غير مسجلة"),
            (.codeDesign, "design", "conception", "التصميم"),
            (.codeImplementation, "implementation", "mise en œuvre", "التنفيذ"),
            (.codeMonitoring, "monitoring", "suivi", "الرصد"),
            (.codeEvaluation, "evaluation", "évaluation", "التقييم"),
        ]
        var table: [Key: [Language: String]] = [:]
        for (key, en, fr, ar) in rows { table[key] = [.en: en, .fr: fr, .ar: ar] }
        return table
    }()
}
