import ArgumentParser
import Domain
import Foundation
import JSON
import Merkle
import PostgresClient
import Transparency
import Trust

/// `consultctl verify`: checks the log's integrity, e.g. after a restore.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check the log: its order and guards, every event against the Merkle tree, every signed checkpoint.",
        discussion: """
            Prints one line per check; exits 1 if any fails (one line on stderr says which). The tree is
            recomputed from the events themselves (docs/TRUST.md). --public-key checks the checkpoints'
            signatures; --checkpoint FILE (a receipt, a report's JSON, or a checkpoint) proves that today's
            log extends that checkpoint, or says where it differs.
            """)

    @OptionGroup var db: DatabaseOptions
    @Option(help: "The operator's published public key (consultd-signing.pub or .vkey): checks every checkpoint's signature.") var publicKey: String?
    @Option(help: "A checkpoint kept elsewhere: a receipt (JSON or .tlog-proof), a report's JSON file, a checkpoint's JSON, or a C2SP checkpoint note (GET /checkpoint, or a witness's copy).") var checkpoint: String?
    @Option(help: ArgumentHelp("A witness of this log: \"VKEY URL\" (its cosignature vkey and its prefix). Its latest cosigned checkpoint of this log (GET URL/<sha256(origin)>/checkpoint) must be cosigned by it and extended by today's log; every stored cosignature by it must verify. Repeat for each.", valueName: "vkey url"))
    var witness: [String] = []
    @Option(help: "Events recorded in the last SECONDS may not be in the stored tree or a checkpoint yet (the notary follows the log); older ones must be.")
    var recent: Double = 300

    func run() {
        let connection = oneLine { try Connection(db.conninfo) }
        // Each check is one query answering (ok, detail); the order of positions and times is checked
        // in the pass over every event below.
        let checks: [(String, String)] = [
            // Versions are unique per stream and at least 1, so they run 1, 2, 3, … exactly when every
            // version above 1 has its predecessor: few events have one, and each is an index probe (a
            // GROUP BY over every stream cost seconds on a large log).
            ("every stream's versions run 1, 2, 3, … without a gap",
             """
             SELECT count(*) = 0 AS ok, count(*) || ' events whose stream lacks the version before theirs' AS detail
               FROM consult.events e
              WHERE e.version > 1
                AND NOT EXISTS (SELECT FROM consult.events p WHERE p.stream = e.stream AND p.version = e.version - 1)
             """),
            ("the log's triggers (numbering, order check, append-only) are in place and enabled",
             """
             SELECT count(*) = 5 AS ok, count(*) || ' of 5 enabled' AS detail
               FROM pg_trigger
              WHERE tgrelid = 'consult.events'::regclass AND tgenabled = 'O'
                AND tgname IN ('events_assign_position', 'events_check_positions', 'events_no_update', 'events_no_delete',
                               'events_no_truncate')
             """),
            ("consult_app may not update, delete or truncate the log",
             """
             SELECT NOT (has_table_privilege('consult_app', 'consult.events', 'UPDATE')
                      OR has_table_privilege('consult_app', 'consult.events', 'DELETE')
                      OR has_table_privilege('consult_app', 'consult.events', 'TRUNCATE')) AS ok,
                    'privileges of consult_app on consult.events' AS detail
             """),
            ("only consult_app may take the log's write lock",
             """
             SELECT NOT has_function_privilege('consult_analyst', 'consult.lock_log()', 'EXECUTE')
                    AND NOT has_table_privilege('consult_analyst', 'consult.log_lock', 'SELECT')
                    AND has_function_privilege('consult_app', 'consult.lock_log()', 'EXECUTE') AS ok,
                    'privileges on consult.lock_log() and consult.log_lock' AS detail
             """),
        ]
        var failed: [String] = []
        for (name, sql) in checks {
            let row = oneLine { try connection.execute(sql).first! }
            let ok = oneLine { try row.get("ok", as: Bool.self) }
            let detail: String = oneLine { try row.get("detail") }
            print("\(ok ? "ok  " : "FAIL") \(name) (\(detail))")
            if !ok { failed.append(name) }
        }
        // The tree and the checkpoints, recomputed from the events.
        let key = oneLine { try publicKey.map(PublicKey.loadAny) }
        let external = oneLine { try checkpoint.map(Self.external) }
        if checkpoint != nil && key == nil { fail("--checkpoint needs --public-key to check its signature") }
        // Each witness's latest cosigned checkpoint of this log, fetched now.
        let witnesses = oneLine { try witness.map(WitnessEndpoint.init(parsing:)) }
        var others: [(label: String, checkpoint: Trust.Checkpoint)] = []
        if !witnesses.isEmpty {
            guard let origin = oneLine({ try LogOrigin.stored(connection) }) else {
                fail("--witness: this log has no origin (consultd --log-origin), so no witness cosigns it")
            }
            for witness in witnesses {
                let name = "witness \(witness.key.name)'s checkpoint"
                let fetched = Result { () throws -> Trust.Checkpoint in
                    let answer = try HTTPClient.request(witness.checkpointURL(origin: origin), timeout: 10)
                    guard answer.status == 200 else { throw CommandFailure("the witness answered \(answer.status)") }
                    let note = try SignedNote(parsing: answer.body)
                    guard (try? note.verifiedKeys([witness.key.verifier]))?.isEmpty == false else {
                        throw CommandFailure("its checkpoint carries no valid cosignature by \(witness.key.name)")
                    }
                    return try Self.note(note, witness.url)
                }
                switch fetched {
                case .success(let checkpoint):
                    print("ok   fetched \(name) (size \(checkpoint.size)), cosigned by it")
                    others.append((name, checkpoint))
                case .failure(let error):
                    print("FAIL fetched \(name) (\(error))")
                    failed.append("fetched \(name)")
                }
            }
        }
        let findings = oneLine {
            // Every event has its type's shape (decoded with the one codec every reader uses), checked in
            // the same pass that hashes it.
            try LogVerifier(connection: connection, conninfo: db.conninfo).verify(
                key: key, external: external?.checkpoint, externalLeaf: external?.leaf,
                rowCheck: ("every event decodes as its type", Self.decodes), recent: recent, others: others, witnesses: witnesses.map(\.key))
        }
        for finding in findings {
            print("\(finding.passed ? "ok  " : "FAIL") \(finding.check) (\(finding.detail))")
            if !finding.passed { failed.append(finding.detail.hasPrefix("position") ? "\(finding.check): \(finding.detail)" : finding.check) }
        }
        if key == nil { print("note checkpoint signatures were not checked (give --public-key)") }
        if !failed.isEmpty { fail("the log failed \(failed.count) check(s): \(failed.joined(separator: "; "))") }
    }

    /// What is wrong with an event, if it does not decode as its type.
    @Sendable static func decodes(_ row: LeafRow) -> String? {
        do {
            let recordedAt = Date(timeIntervalSince1970: Double(row.recordedAtMicroseconds) / 1_000_000)
            _ = try DomainEvent(
                type: String(decoding: row.type, as: UTF8.self), data: String(decoding: row.data, as: UTF8.self), recordedAt: recordedAt)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// A checkpoint kept elsewhere: a receipt (with its event's leaf), a report's JSON, or a checkpoint.
    static func external(_ path: String) throws -> (checkpoint: Trust.Checkpoint, leaf: (position: Int64, hash: Hash)?) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CommandFailure("cannot read \(path)") }
        if text.hasPrefix(TlogProof.header + "\n") {
            let proof: TlogProof
            do { proof = try TlogProof(parsing: text) } catch { throw CommandFailure("\(path): \(error)") }
            let leaf = proof.extra.map { (position: proof.index + 1, hash: MerkleHash.leaf($0)) }
            return (try note(proof.note, path), leaf)
        }
        if !text.hasPrefix("{"), let note = try? SignedNote(parsing: text) { return (try Self.note(note, path), nil) }
        let value = try JSONParser.eventData.parse(text)
        if value["receipt"] != nil {
            let receipt = try Receipt(json: value)
            return (receipt.checkpoint, (receipt.event.position, receipt.leafHash))
        }
        if let inner = value["checkpoint"], inner != .null { return (try Trust.Checkpoint(json: inner), nil) }
        return (try Trust.Checkpoint(json: value), nil)
    }

    /// A C2SP checkpoint note as the log signed it: its text, and the signature by the key named as its origin.
    static func note(_ note: SignedNote, _ path: String) throws -> Trust.Checkpoint {
        let parsed: Transparency.Checkpoint
        do { parsed = try Transparency.Checkpoint(text: note.text) } catch { throw CommandFailure("\(path): \(error)") }
        guard let signature = note.signatures.first(where: { $0.name == parsed.origin }) else {
            throw CommandFailure("\(path): no signature by the log (a key named \(parsed.origin))")
        }
        return Trust.Checkpoint(
            size: parsed.size, root: parsed.root, logTimeMicroseconds: 0, keyID: KeyID.hex(signature.keyID), signature: signature.signature,
            origin: parsed.origin)
    }
}
