import Merkle

/// Why a tlog-proof was refused.
public enum ProofError: Error, Equatable, Sendable, CustomStringConvertible {
    case notUTF8
    case badHeader
    case badExtra
    case badIndex
    case badProofHash(line: Int)
    case tooManyProofHashes
    case noCheckpoint
    case note(NoteError)
    case checkpoint(CheckpointError)
    case wrongOrigin(expected: String, found: String)
    case notEnoughCosignatures(needed: Int, found: Int)
    case inclusionFails
    case indexOutOfRange(index: Int64, size: Int64)

    public var description: String {
        switch self {
        case .notUTF8: return "the proof is not valid UTF-8"
        case .badHeader: return "the proof's first line is not \(TlogProof.header)"
        case .badExtra: return "the proof's extra line is not `extra <base64>`"
        case .badIndex: return "the proof has no line `index <decimal without leading zeroes>` where one is needed"
        case .badProofHash(let line): return "the proof's line \(line) is not the base64 of a 32-byte hash"
        case .tooManyProofHashes: return "the proof has more than 63 inclusion proof hashes"
        case .noCheckpoint: return "the proof has no empty line followed by a checkpoint"
        case .note(let error): return "the proof's checkpoint: \(error)"
        case .checkpoint(let error): return "the proof's checkpoint: \(error)"
        case .wrongOrigin(let expected, let found): return "the checkpoint's origin is \(found), not \(expected)"
        case .notEnoughCosignatures(let needed, let found):
            return "the checkpoint carries \(found) valid cosignature(s) by trusted witnesses; the policy needs \(needed)"
        case .inclusionFails: return "the inclusion proof does not bind the leaf to the checkpoint's root"
        case .indexOutOfRange(let index, let size): return "index \(index) is not in a tree of size \(size)"
        }
    }
}

/// A c2sp.org/tlog-proof@v1 file: the entry's index, optional extra data, an inclusion proof, and
/// the signed checkpoint (with its cosignatures).
public struct TlogProof: Sendable, Equatable {
    public static let header = "c2sp.org/tlog-proof@v1"

    public var extra: [UInt8]?
    public var index: Int64
    public var inclusionProof: [Hash]
    public var note: SignedNote

    public init(extra: [UInt8]? = nil, index: Int64, inclusionProof: [Hash], note: SignedNote) {
        self.extra = extra
        self.index = index
        self.inclusionProof = inclusionProof
        self.note = note
    }

    public var serialized: String {
        var out = TlogProof.header + "\n"
        if let extra { out += "extra \(Base64.encode(extra))\n" }
        out += "index \(index)\n"
        for hash in inclusionProof { out += Base64.encode(hash.bytes) + "\n" }
        return out + "\n" + note.serialized
    }

    public init(parsing text: String) throws(ProofError) {
        try self.init(parsing: Array(text.utf8))
    }

    public init(parsing bytes: [UInt8]) throws(ProofError) {
        guard String(validating: bytes, as: UTF8.self) != nil else { throw .notUTF8 }
        var lineStart = 0
        var lineNumber = 0
        /// The next line without its newline; nil at the end or for a last line without one.
        func nextLine() -> Substring? {
            guard let end = bytes[lineStart...].firstIndex(of: 0x0A) else { return nil }
            let line = Substring(String(decoding: bytes[lineStart..<end], as: UTF8.self))
            lineStart = end + 1
            lineNumber += 1
            return line
        }
        guard nextLine() == Substring(TlogProof.header) else { throw .badHeader }
        guard var line = nextLine() else { throw .badIndex }
        if line.hasPrefix("extra") {
            guard line.hasPrefix("extra "), let data = Base64.decode(line.dropFirst(6)) else { throw .badExtra }
            extra = data
            guard let next = nextLine() else { throw .badIndex }
            line = next
        } else {
            extra = nil
        }
        guard line.hasPrefix("index "), let index = Decimal.parse(line.dropFirst(6)) else { throw .badIndex }
        self.index = index
        var hashes: [Hash] = []
        while true {
            guard let hashLine = nextLine() else { throw .noCheckpoint }
            if hashLine.isEmpty { break }
            guard hashes.count < 63 else { throw .tooManyProofHashes }
            guard let hash = Base64.decode(hashLine), hash.count == 32 else { throw .badProofHash(line: lineNumber) }
            hashes.append(Hash(bytes: hash))
        }
        inclusionProof = hashes
        guard lineStart < bytes.count else { throw .noCheckpoint }
        do {
            note = try SignedNote(parsing: Array(bytes[lineStart...]))
        } catch {
            throw .note(error)
        }
    }

    /// The checkpoint the note carries (its text parsed).
    public func checkpoint() throws(ProofError) -> Checkpoint {
        do { return try Checkpoint(text: note.text) } catch { throw .checkpoint(error) }
    }

    /// Verifies the proof for `leafHash` (computed by the caller from the entry, and `extra` when the
    /// application uses it): the checkpoint's origin is `origin` (default: the log key's name) and it
    /// is signed by `logKey`; at least `quorum` of `witnesses` cosigned it (a cosignature by one of
    /// them that does not verify rejects the proof); and the inclusion proof binds the leaf at `index`
    /// to the root. Returns the checkpoint and the indexes in `witnesses` of those that cosigned.
    @discardableResult
    public func verify(leafHash: Hash, logKey: VerifierKey, origin: String? = nil, witnesses: [VerifierKey], quorum: Int) throws(ProofError)
        -> (checkpoint: Checkpoint, cosigned: Set<Int>)
    {
        let checkpoint = try checkpoint()
        let expected = origin ?? logKey.name
        guard checkpoint.origin == expected else { throw .wrongOrigin(expected: expected, found: checkpoint.origin) }
        let cosigned: Set<Int>
        do {
            try note.verify([logKey.verifier])
            cosigned = try note.verifiedKeys(witnesses.map(\.verifier))
        } catch {
            throw .note(error)
        }
        // A witness listed twice counts once.
        let distinct = Set(cosigned.map { witnesses[$0].text }).count
        guard distinct >= quorum else { throw .notEnoughCosignatures(needed: quorum, found: distinct) }
        guard index < checkpoint.size else { throw .indexOutOfRange(index: index, size: checkpoint.size) }
        guard MerkleProofs.verifyInclusion(leaf: leafHash, index: index, size: checkpoint.size, proof: inclusionProof, root: checkpoint.root) else {
            throw .inclusionFails
        }
        return (checkpoint, cosigned)
    }
}
