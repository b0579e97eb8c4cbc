import ArgumentParser
import Domain
import EventLog
import Foundation
import JSON
import LineClient
import LineProtocol
import Participation

/// `consultctl demo`: a realistic synthetic data set, the same for the same seed. Organisations,
/// consultations, feedback and outcomes go through the convener's commands; submissions through
/// consultd's TCP protocol. Two consultations close during the demo, so that with the demo policy
/// (`policy/demo.json`: feedback judged at the close) the audit shows every verdict.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Load a synthetic data set: 6 consultations, 60 organisations, a few thousand submissions.",
        discussion: """
            Needs a running consultd (--host, --port; --tls and --ca for TLS): every submission travels the real protocol; it is
            checked before anything is written. Dates are relative to now (windows keep their length), so
            every metric but median_days_to_feedback (which measures log time) is the same for the same seed.
            Two consultations opened 40 days ago are closed by command at the end: with
            --policy policy/demo.json (feedback judged at the close, not 30 days after) one is meaningful and
            one tokenistic; the four still open are partial. Refuses to load twice into one database.
            """)

    @OptionGroup var db: DatabaseOptions
    @OptionGroup var keys: MasterKeyOptions
    @Option var seed: UInt64 = 1
    @OptionGroup var consultd: ConsultdOptions

    struct Plan {
        let consultation: Consultation
        /// How many submissions, and the chance that one gets feedback.
        let volume: Int
        let feedbackShare: Double
        let outcomeCiteShare: Double?
        /// Group weights that make representation uneven (missing groups get weight 1).
        let skew: [String: [String: Double]]
        /// Closed by command once its submissions, feedback and outcome are in.
        var closesDuringDemo = false
        /// Only organisations led by the people affected speak (else anyone, a third of it one big INGO).
        var affectedLedOnly = false
    }

    func run() {
        var random = SeededGenerator(seed: seed)
        let log = Log(db, keys: keys)
        let now = Date()
        let plans = Self.plans(now: now)
        let organisations = Self.organisations(&random)
        // One TLS context for the demo's sixty connections (its CA file is read once).
        let tls = oneLine { try consultd.tlsConfiguration() }
        // Everything is checked before anything is written: the database is free of the demo, and
        // consultd answers (every submission needs it).
        oneLine {
            guard try log.registry().organisations[organisations[0].id] == nil else {
                throw CommandFailure("the demo data is already loaded in this database")
            }
            do {
                let client = try consultd.connect(timeout: 5, tls: tls)
                guard try client.request("PING") == "OK PONG" else { throw CommandFailure("no PONG") }
            } catch {
                throw CommandFailure("cannot reach consultd at \(consultd.host):\(consultd.port) (\(error)); nothing was written")
            }
        }

        // Registrations and consultations, as a convener makes them, in one transaction.
        var tokens: [String: String] = [:]
        oneLine {
            var registry = try log.registry()
            var decided: [PendingEvent] = []
            for organisation in organisations {
                let token = Credentials.newToken()
                decided += try Commands.register(organisation, tokenHash: Credentials.hash(token), registry: registry).get()
                tokens[organisation.id] = token
            }
            for plan in plans {
                decided.append(try Commands.open(plan.consultation, registry: registry).get())
            }
            _ = try log.append(.success(decided))
            registry = try log.registry()
        }

        // Everything after this point is written step by step: if a step fails, say how to go on.
        func stopped(_ reason: String) -> Never {
            fail("the demo stopped part way (\(reason)); organisations and consultations are written. "
                + "To start over, recreate the database, run `consultctl migrate`, then `consultctl demo` again")
        }

        // Submissions: decided up front from the seed, then sent per organisation, pipelined.
        var perOrganisation: [String: [(String, String, JSONValue)]] = [:]
        var sent: [SubmissionKey] = []
        let bigINGO = organisations.first { $0.type == "international_ngo" }!.id
        let affectedLed = organisations.filter { $0.leadership.contains(where: ConsultationMetrics.affectedLeadership.contains) }
        for plan in plans {
            for index in 0..<plan.volume {
                let organisation: String
                if plan.affectedLedOnly {
                    organisation = affectedLed.randomElement(using: &random)!.id
                } else {
                    // One large international NGO sends about a third of everything.
                    organisation = random.next() % 3 == 0 ? bigINGO : organisations.randomElement(using: &random)!.id
                }
                let key = "\(plan.consultation.id)-\(String(format: "%04d", index))"
                perOrganisation[organisation, default: []].append((plan.consultation.id, key, Self.body(plan, &random)))
                sent.append(SubmissionKey(organisation: organisation, consultation: plan.consultation.id, key: key))
            }
        }
        var failures = 0
        for organisation in perOrganisation.keys.sorted() {
            let items = perOrganisation[organisation]!
            do {
                let client = try consultd.connect(tls: tls)
                guard try client.request("AUTH \(organisation) \(tokens[organisation]!)").hasPrefix("OK") else {
                    stopped("consultd refused the demo credential of \(organisation)")
                }
                let requests = items.map { "SUBMIT \($0.0) \($0.1) \($0.2.serialized)\n" }.joined()
                let sender = Thread { try? client.send(bytes: Array(requests.utf8)) }
                sender.start()
                for _ in items {
                    guard let reply = try client.readLine() else { stopped("consultd closed the connection") }
                    if !reply.hasPrefix("OK SUBMIT") { failures += 1 }
                }
                _ = try? client.request("QUIT")
            } catch {
                stopped("cannot reach consultd at \(consultd.host):\(consultd.port): \(error)")
            }
        }
        guard failures == 0 else { stopped("\(failures) demo submissions were refused") }

        // Feedback to part of them, outcomes for some consultations, and the closes: the convener's
        // commands, in one transaction.
        do {
            var registry = try log.registry()
            var decided: [PendingEvent] = []
            for plan in plans {
                let mine = sent.filter { $0.consultation == plan.consultation.id }
                for submission in mine where Double(random.next() % 1_000) / 1_000 < plan.feedbackShare {
                    decided.append(try Commands.giveFeedback(
                        to: submission, text: "Thank you: this was discussed in the working group and is reflected in the draft.",
                        submission: try log.state(of: Streams.submission(submission))
                    ).get())
                }
                let stream = Streams.consultation(plan.consultation.id)
                var version = try log.version(of: stream)
                if let share = plan.outcomeCiteShare {
                    let cited = mine.filter { _ in Double(random.next() % 1_000) / 1_000 < share }.map { "\($0.organisation)/\($0.key)" }
                    let sentKeys = Set(mine)
                    decided.append(try Commands.publishOutcome(
                        of: plan.consultation.id, summary: "Outcome of \(plan.consultation.title)", cites: cited, registry: registry,
                        version: version) { sentKeys.contains($0) }.get())
                    version += 1
                }
                if plan.closesDuringDemo {
                    decided.append(try Commands.close(plan.consultation.id, at: Date(), registry: registry, version: version).get())
                }
            }
            _ = try log.append(.success(decided))
            registry = try log.registry()
        } catch {
            stopped("\(error)")
        }
        print("demo loaded: \(organisations.count) organisations, \(plans.count) consultations, \(sent.count) submissions")
    }

    /// Names of the demo's group codes.
    static let names = [
        "SYR": "Syria", "IRQ": "Iraq", "YEM": "Yemen", "SDN": "Sudan", "SSD": "South Sudan", "SOM": "Somalia", "COD": "DR Congo",
        "BDI": "Burundi", "UKR": "Ukraine", "AFG": "Afghanistan", "ERI": "Eritrea", "female": "women and girls", "male": "men and boys",
        "0-17": "children (0-17)", "18-24": "young adults (18-24)", "25-59": "adults (25-59)", "60+": "older people (60+)",
    ]

    /// The demo's own names in the report languages: titles, conveners, dimensions, and groups other
    /// than countries (which get CLDR's names, as a convener's would who gave none).
    static let translations: [String: (fr: String, ar: String)] = [
        "Access to secondary education": ("Accès à l’enseignement secondaire", "الوصول إلى التعليم الثانوي"),
        "Livelihoods in Kakuma and Kalobeyei": ("Moyens de subsistance à Kakuma et Kalobeyei", "سبل العيش في كاكوما وكالوبيي"),
        "Primary health care for people from Venezuela": ("Soins de santé primaires pour les personnes venues du Venezuela",
                                                          "الرعاية الصحية الأولية للقادمين من فنزويلا"),
        "Temporary protection: two years on": ("Protection temporaire : deux ans après", "الحماية المؤقتة: بعد عامين"),
        "Shelter in new settlements": ("L’abri dans les nouveaux sites d’installation", "المأوى في المستوطنات الجديدة"),
        "Water and sanitation in informal settlements": ("Eau et assainissement dans les campements informels",
                                                         "المياه والصرف الصحي في التجمعات غير الرسمية"),
        "UNHCR Jordan": ("HCR Jordanie", "المفوضية السامية للأمم المتحدة لشؤون اللاجئين في الأردن"),
        "County Government of Turkana": ("Gouvernement du comté de Turkana", "حكومة مقاطعة توركانا"),
        "Ministerio de Salud": ("Ministère de la Santé (Colombie)", "وزارة الصحة (كولومبيا)"),
        "Regional Protection Forum": ("Forum régional de protection", "المنتدى الإقليمي للحماية"),
        "Office of the Prime Minister, Uganda": ("Cabinet du Premier ministre, Ouganda", "مكتب رئيس الوزراء، أوغندا"),
        "Water Sector Working Group": ("Groupe de travail du secteur de l’eau", "الفريق العامل المعني بقطاع المياه"),
        "country of origin": ("pays d’origine", "بلد المنشأ"), "gender": ("genre", "النوع الاجتماعي"), "age": ("âge", "العمر"),
        "women and girls": ("femmes et filles", "النساء والفتيات"), "men and boys": ("hommes et garçons", "الرجال والفتيان"),
        "children (0-17)": ("enfants (0-17 ans)", "الأطفال (0-17)"), "young adults (18-24)": ("jeunes adultes (18-24 ans)", "الشباب (18-24)"),
        "adults (25-59)": ("adultes (25-59 ans)", "البالغون (25-59)"), "older people (60+)": ("personnes âgées (60 ans et plus)", "كبار السن (60+)"),
    ]

    /// A consultation's names in English, French and Arabic, from `translations`.
    static func names(title: String, convener: String, baseline: [String: [String: Double]]) -> NameBook {
        func names(_ pick: (String, (fr: String, ar: String)) -> String) -> Names {
            func word(_ english: String) -> String? { translations[english].map { pick(english, $0) } }
            var result = Names(title: word(title), convener: word(convener))
            for (dimension, groups) in baseline {
                result.dimensions[dimension] = word(dimension.replacingOccurrences(of: "_", with: " "))
                for code in groups.keys {
                    guard Naming.country(code) == nil, let english = Self.names[code] else { continue }
                    result.groups[dimension, default: [:]][code] = word(english)
                }
            }
            return result
        }
        return NameBook(["en": names { english, _ in english }, "fr": names { $1.fr }, "ar": names { $1.ar }])
    }

    static func plans(now: Date) -> [Plan] {
        let day = 86_400.0
        func consultation(_ id: String, _ title: String, _ convener: String, window: Double, opened: Double = 10, stages: [String],
                          languages: [String], baseline: [String: [String: Double]]) -> Consultation {
            let opens = now.addingTimeInterval(-opened * day)
            // The names reports show for the codes this consultation uses.
            let labels = baseline.mapValues { groups in groups.keys.reduce(into: [String: String]()) { names, code in names[code] = Self.names[code] } }
                .filter { !$0.value.isEmpty }
            return Consultation(id: id, title: title, convener: convener, opensAt: opens, closesAt: opens.addingTimeInterval(window * day),
                                stages: stages, languages: languages, baseline: baseline, labels: labels,
                                names: Self.names(title: title, convener: convener, baseline: baseline))
        }
        let gender = ["female": 0.5, "male": 0.5]
        let age = ["0-17": 0.45, "18-24": 0.15, "25-59": 0.35, "60+": 0.05]
        return [
            Plan(consultation: consultation("edu-jordan", "Access to secondary education", "UNHCR Jordan", window: 90,
                 stages: ["design", "implementation", "monitoring"], languages: ["ar", "en"],
                 baseline: ["country_of_origin": ["SYR": 0.85, "IRQ": 0.08, "YEM": 0.04, "SDN": 0.03], "gender": gender, "age": age]),
                 volume: 1_200, feedbackShare: 0.8, outcomeCiteShare: 0.15,
                 skew: ["country_of_origin": ["SYR": 20, "IRQ": 2, "YEM": 0.2, "SDN": 0.1], "age": ["25-59": 6, "18-24": 2, "0-17": 1, "60+": 0.05]]),
            Plan(consultation: consultation("livelihoods-kenya", "Livelihoods in Kakuma and Kalobeyei", "County Government of Turkana", window: 60,
                 stages: ["design", "implementation", "evaluation"], languages: ["en", "sw", "so"],
                 baseline: ["country_of_origin": ["SSD": 0.5, "SOM": 0.3, "COD": 0.15, "BDI": 0.05], "gender": gender]),
                 volume: 900, feedbackShare: 0.3, outcomeCiteShare: 0,
                 skew: ["country_of_origin": ["SOM": 5, "SSD": 3, "COD": 1, "BDI": 0.1], "gender": ["male": 3, "female": 1]]),
            Plan(consultation: consultation("health-colombia", "Primary health care for people from Venezuela", "Ministerio de Salud", window: 45,
                 stages: ["monitoring", "evaluation"], languages: ["es"],
                 baseline: ["gender": gender, "age": age]),
                 volume: 600, feedbackShare: 0.05, outcomeCiteShare: nil, skew: ["age": ["25-59": 5, "60+": 0.5]]),
            Plan(consultation: consultation("protection-europe", "Temporary protection: two years on", "Regional Protection Forum", window: 20,
                 stages: ["design", "implementation", "monitoring", "evaluation"], languages: ["en", "uk", "ar", "fa"],
                 baseline: ["country_of_origin": ["UKR": 0.6, "SYR": 0.15, "AFG": 0.15, "ERI": 0.1], "gender": gender]),
                 volume: 500, feedbackShare: 0.95, outcomeCiteShare: 0.3, skew: ["country_of_origin": ["UKR": 4, "ERI": 0.1]]),
            // Opened 40 days ago and closed at the end of the demo: everyone heard, answered and cited.
            Plan(consultation: consultation("shelter-uganda", "Shelter in new settlements", "Office of the Prime Minister, Uganda",
                 window: 60, opened: 40, stages: ["design", "implementation", "monitoring"], languages: ["en", "ar"],
                 baseline: ["gender": gender, "age": age]),
                 volume: 300, feedbackShare: 1, outcomeCiteShare: 0.3, skew: [:], closesDuringDemo: true, affectedLedOnly: true),
            // The same length, but nobody was answered and the outcome cites nothing: tokenistic.
            Plan(consultation: consultation("water-lebanon", "Water and sanitation in informal settlements", "Water Sector Working Group",
                 window: 60, opened: 40, stages: ["design", "implementation"], languages: ["ar"],
                 baseline: ["gender": gender]),
                 volume: 200, feedbackShare: 0, outcomeCiteShare: 0, skew: [:], closesDuringDemo: true),
        ]
    }

    static func organisations(_ random: inout SeededGenerator) -> [Organisation] {
        var list = [Organisation(id: "global-aid-intl", name: "Global Aid International", type: "international_ngo", leadership: [], level: "global", country: "CHE")]
        let countries = ["JOR", "KEN", "COL", "POL", "DEU", "UGA", "LBN", "TUR", "ETH", "MEX"]
        let names = ["Voices", "Hope", "Bridges", "Sisters", "Youth", "Diaspora", "Rights", "Together", "Home", "Roots"]
        for index in 1..<60 {
            let roll = random.next() % 10
            let type = ["community_based", "community_based", "community_based", "ngo", "ngo", "faith_based", "network", "academic", "trade_union", "local_authority"][Int(roll)]
            var leadership: [String] = []
            if type == "community_based" || random.next() % 4 == 0 {
                leadership.append(["refugees", "refugees", "migrants", "diaspora", "stateless"][Int(random.next() % 5)])
            }
            if random.next() % 3 == 0 { leadership.append("women") }
            if random.next() % 5 == 0 { leadership.append("youth") }
            if random.next() % 12 == 0 { leadership.append("persons_with_disabilities") }
            let level = type == "network" ? "regional" : ["local", "local", "national", "regional"][Int(random.next() % 4)]
            let country = countries[Int(random.next() % UInt64(countries.count))]
            list.append(Organisation(
                id: "org-\(String(format: "%02d", index))", name: "\(names[index % names.count]) \(country) \(index)",
                type: type, leadership: Array(Set(leadership)).sorted(), level: level, country: country))
        }
        return list
    }

    static func body(_ plan: Plan, _ random: inout SeededGenerator) -> JSONValue {
        let consultation = plan.consultation
        func pick(_ dimension: String) -> [String] {
            let baseline = consultation.baseline[dimension]!
            var options = baseline.keys.sorted().map { ($0, baseline[$0]! * (plan.skew[dimension]?[$0] ?? 1)) }
            if dimension == "country_of_origin" { options.append(("STATELESS", 0.01)) }  // outside the baseline: "other"
            let total = options.reduce(0) { $0 + $1.1 }
            var chosen: [String] = []
            for _ in 0..<(random.next() % 4 == 0 ? 2 : 1) {
                var roll = Double(random.next() % 1_000_000) / 1_000_000 * total
                for (group, weight) in options {
                    roll -= weight
                    if roll <= 0 { chosen.append(group); break }
                }
            }
            return Array(Set(chosen)).sorted()
        }
        var represents: [(String, JSONValue)] = []
        for dimension in consultation.dimensions where random.next() % 10 != 0 {
            let groups = pick(dimension)
            if !groups.isEmpty { represents.append((dimension, .array(groups.map(JSONValue.string)))) }
        }
        let stage = consultation.stages[Int(random.next() % UInt64(consultation.stages.count))]
        let language = random.next() % 5 == 0 && consultation.languages.count > 1 ? consultation.languages[1] : consultation.languages[0]
        let texts = [
            "Families cannot afford transport to school; a stipend would keep girls enrolled.",
            "Work permits take months; people end up in informal jobs without protection.",
            "Clinics close before people finish work; evening hours would help.",
            "Older people are rarely asked; home visits would reach them.",
            "Information is only in one language; many of us cannot read it.",
        ]
        return .object([
            ("stage", .string(stage)), ("language", .string(language)),
            ("text", .string(texts[Int(random.next() % UInt64(texts.count))])),
            ("represents", .object(represents)),
            ("people_consulted", .number(String(random.next() % 200))),
            ("topics", .array([.string(["education", "livelihoods", "health", "protection", "documentation"][Int(random.next() % 5)])])),
        ])
    }
}
