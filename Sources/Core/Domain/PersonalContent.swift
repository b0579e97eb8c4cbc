import JSON

/// Personal content (a submission's text, feedback, a withdrawal's reason): as written, as the log
/// stores it (sealed under a key outside the log, docs/PRIVACY.md), or erased (its key destroyed).
public enum PersonalText: Equatable, Sendable {
    case plain(String)
    /// Base64 of an AES-GCM box: nonce, ciphertext, tag.
    case sealed(String)
    case erased

    /// The text, when it can be read.
    public var text: String? {
        if case .plain(let text) = self { return text }
        return nil
    }

    /// Its JSON in event data: a string, `{"sealed": "…"}`, or `{"erased": true}` (never stored: what
    /// a reader sees once the key is gone).
    public var json: JSONValue {
        switch self {
        case .plain(let text): return .string(text)
        case .sealed(let box): return .object([("sealed", .string(box))])
        case .erased: return .object([("erased", .bool(true))])
        }
    }

    /// From event data; nil when `value` has none of the three forms.
    public init?(json value: JSONValue) {
        if let text = value.stringValue {
            self = .plain(text)
        } else if let box = value["sealed"]?.stringValue {
            self = .sealed(box)
        } else if value["erased"] == .bool(true) {
            self = .erased
        } else {
            return nil
        }
    }
}

/// Where each event type keeps personal content: paths of object members in its data.
public enum PersonalContent {
    public static let paths: [String: [String]] = [
        EventType.submissionReceived: ["submission", "text"],
        EventType.submissionWithdrawn: ["reason"],
        EventType.feedbackGiven: ["text"],
    ]

    /// Whether events of `type` carry personal content.
    public static func carried(by type: String) -> Bool { paths[type] != nil }
}

extension JSONValue {
    /// The value at `path` (object members), if any.
    public func value(at path: some Collection<String>) -> JSONValue? {
        guard let first = path.first else { return self }
        return self[first]?.value(at: path.dropFirst())
    }

    /// A copy with the value at `path` replaced by `transform` of it; unchanged when the path is absent.
    public func replacing(at path: some Collection<String>, _ transform: (JSONValue) throws -> JSONValue) rethrows -> JSONValue {
        guard let first = path.first else { return try transform(self) }
        guard case .object(let members) = self else { return self }
        return .object(try members.map { name, value in
            name == first ? (name, try value.replacing(at: path.dropFirst(), transform)) : (name, value)
        })
    }
}

/// The content of one organisation, one consultation (retention) or one submission was erased: its
/// keys destroyed. Says what and by whom, never the content.
public struct ContentErased: Equatable, Sendable {
    public let organisation: String?
    public let consultation: String?
    public let key: String?
    /// Who asked (an operator's name, or `retention`).
    public let by: String
    /// Why, in the asker's words (e.g. "request of the organisation", "retention: 90 days after close").
    public let reason: String
    /// How many events' content keys were destroyed.
    public let events: Int

    public init(organisation: String?, consultation: String?, key: String?, by: String, reason: String, events: Int) {
        self.organisation = organisation
        self.consultation = consultation
        self.key = key
        self.by = by
        self.reason = reason
        self.events = events
    }

    var json: JSONValue {
        .object([
            ("organisation", organisation.map(JSONValue.string) ?? .null), ("consultation", consultation.map(JSONValue.string) ?? .null),
            ("key", key.map(JSONValue.string) ?? .null), ("by", .string(by)), ("reason", .string(reason)),
            ("events", .number(String(events))),
        ])
    }

    init(json data: JSONValue, type: String) throws {
        func optional(_ field: String) throws -> String? {
            switch data[field] {
            case nil, .null?: return nil
            case .string(let text)?: return text
            default: throw EventDecodingError(type: type, field: field, message: "a string or null")
            }
        }
        guard case .number(let count)? = data["events"], let events = Int(count) else {
            throw EventDecodingError(type: type, field: "events", message: "an integer")
        }
        self.init(
            organisation: try optional("organisation"), consultation: try optional("consultation"), key: try optional("key"),
            by: try EventDecodingError.string(data, "by", type), reason: try EventDecodingError.string(data, "reason", type), events: events)
    }
}
