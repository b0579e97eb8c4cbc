import DequeModule

/// The bytes a connection has yet to write, in order, as chunks of contiguous bytes: what the
/// transport took is dropped a chunk at a time (never by moving what is left), and each write
/// hands the transport a whole chunk. Short replies are gathered into chunks of up to `chunkBytes`
/// so that one write carries many of them.
struct OutputQueue {
    static let chunkBytes = 65_536

    private var chunks = Deque<[UInt8]>()
    /// Bytes of the first chunk already written.
    private var written = 0
    /// Bytes waiting: what the connection's bound on queued bytes counts.
    private(set) var count = 0

    var isEmpty: Bool { count == 0 }

    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        count += bytes.count
        if let last = chunks.indices.last, chunks[last].count + bytes.count <= Self.chunkBytes {
            chunks[last].append(contentsOf: bytes)
        } else {
            chunks.append(bytes)
        }
    }

    /// Calls `body` with the unwritten bytes of the first chunk (none when nothing waits).
    func withNextChunk<Result>(_ body: (UnsafeRawBufferPointer) -> Result) -> Result {
        guard let first = chunks.first else { return body(UnsafeRawBufferPointer(start: nil, count: 0)) }
        return first.withUnsafeBytes { body(UnsafeRawBufferPointer(rebasing: $0[written...])) }
    }

    /// Drops the first `sent` bytes, which the transport took.
    mutating func removeFirst(_ sent: Int) {
        precondition(sent >= 0 && sent <= count, "more bytes sent than were queued")
        count -= sent
        var left = sent
        while left > 0 {
            let unwritten = chunks[chunks.startIndex].count - written
            if left < unwritten {
                written += left
                return
            }
            left -= unwritten
            chunks.removeFirst()
            written = 0
        }
    }

    mutating func removeAll() {
        chunks.removeAll()
        written = 0
        count = 0
    }
}
