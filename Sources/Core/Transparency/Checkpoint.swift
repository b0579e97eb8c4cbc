import Merkle

/// Why a checkpoint's text was refused.
public enum CheckpointError: Error, Equatable, Sendable, CustomStringConvertible {
    case tooFewLines
    case unterminated
    case emptyOrigin
    case badSize(String)
    case badRootHash
    case emptyExtensionLine(line: Int)

    public var description: String {
        switch self {
        case .tooFewLines: return "a checkpoint has at least three lines: origin, size, root hash"
        case .unterminated: return "the checkpoint's text does not end with a newline"
        case .emptyOrigin: return "the checkpoint's origin line is empty"
        case .badSize(let text): return "the checkpoint's size \"\(text.prefix(40))\" is not a decimal without leading zeroes"
        case .badRootHash: return "the checkpoint's root hash is not the base64 of 32 bytes"
        case .emptyExtensionLine(let line): return "the checkpoint's line \(line) is an empty extension line"
        }
    }
}

/// A tree head as c2sp.org/tlog-checkpoint writes it: the note text of a checkpoint.
public struct Checkpoint: Sendable, Equatable {
    public var origin: String
    public var size: Int64
    public var root: Hash
    /// Opaque extension lines after the root hash (without their newlines).
    public var extensions: [String]

    public init(origin: String, size: Int64, root: Hash, extensions: [String] = []) {
        precondition(size >= 0, "negative tree size")
        self.origin = origin
        self.size = size
        self.root = root
        self.extensions = extensions
    }

    /// Parses a note's text (ending in a newline).
    public init(text: String) throws(CheckpointError) {
        guard text.hasSuffix("\n") else { throw .unterminated }
        let lines = text.dropLast().split(separator: "\n", omittingEmptySubsequences: false)
        guard lines.count >= 3 else { throw .tooFewLines }
        guard !lines[0].isEmpty else { throw .emptyOrigin }
        guard let size = Decimal.parse(lines[1]) else { throw .badSize(String(lines[1])) }
        guard let root = Base64.decode(lines[2]), root.count == 32 else { throw .badRootHash }
        for (offset, line) in lines.dropFirst(3).enumerated() where line.isEmpty {
            throw .emptyExtensionLine(line: offset + 4)
        }
        self.origin = String(lines[0])
        self.size = size
        self.root = Hash(bytes: root)
        self.extensions = lines.dropFirst(3).map(String.init)
    }

    /// The note text: origin, size, base64 root, extension lines, each ending in a newline.
    public var text: String {
        ([origin, String(size), Base64.encode(root.bytes)] + extensions).map { $0 + "\n" }.joined()
    }
}
