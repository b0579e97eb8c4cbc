/// Cuts a byte stream into `\n`-terminated lines (a trailing `\r` dropped), at most `maxLineLength`
/// bytes each. An over-long line yields `.tooLong` once, as soon as it is known, and the rest of it
/// is discarded up to its newline; the stream goes on after it. No I/O: bytes in, frames out.
public struct LineFramer: Sendable {
    /// One unit of input.
    public enum Frame: Equatable, Sendable {
        case line([UInt8])
        case tooLong
    }

    public let maxLineLength: Int
    private var partial: [UInt8] = []
    private var discarding = false

    public init(maxLineLength: Int) {
        precondition(maxLineLength > 0)
        self.maxLineLength = maxLineLength
    }

    /// Bytes held for a line not yet complete.
    public var bufferedByteCount: Int { partial.count }

    /// True while a line has begun and not ended: bytes held, or an over-long line being discarded.
    public var isInsideLine: Bool { !partial.isEmpty || discarding }

    /// The daemon's case, specialised here (a generic call from another module would not be).
    public mutating func feed(_ bytes: ArraySlice<UInt8>) -> [Frame] {
        frames(of: bytes)
    }

    public mutating func feed<Bytes: Collection>(_ bytes: Bytes) -> [Frame] where Bytes.Element == UInt8 {
        frames(of: bytes)
    }

    private mutating func frames<Bytes: Collection>(of bytes: Bytes) -> [Frame] where Bytes.Element == UInt8 {
        var frames: [Frame] = []
        var rest = bytes[...]
        while !rest.isEmpty {
            let newline = rest.firstIndex(of: 0x0A)
            let chunk = rest[..<(newline ?? rest.endIndex)]
            if discarding {
                if newline != nil { discarding = false }
            } else {
                partial.append(contentsOf: chunk)
                if newline != nil {
                    if partial.last == 0x0D { partial.removeLast() }
                    frames.append(partial.count > maxLineLength ? .tooLong : .line(partial))
                    partial = []
                } else if partial.count > maxLineLength + 1 || (partial.count == maxLineLength + 1 && partial.last != 0x0D) {
                    // Too long whatever follows (one extra byte is allowed only for a final "\r").
                    frames.append(.tooLong)
                    partial = []
                    discarding = true
                }
            }
            guard let newline else { break }
            rest = rest[rest.index(after: newline)...]
        }
        return frames
    }
}
