/// JSON text as it is, unparsed: what a jsonb column takes and gives back (PostgresClient binds it;
/// the server parses and compares it by value).
public struct JSONText: Equatable, Sendable {
    public let text: String
    public init(_ text: String) { self.text = text }
}
