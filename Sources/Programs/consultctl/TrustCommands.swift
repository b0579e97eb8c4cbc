import ArgumentParser
import Domain
import Foundation
import JSON
import LineClient
import Transparency
import Trust

/// `consultctl keys`: the operator's signing key for checkpoints and master key for personal content.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The operator's keys: the Ed25519 pair that signs checkpoints, the master key that seals personal content, and a witness's cosigning key.",
        subcommands: [Generate.self, VKey.self, GenerateMaster.self, RotateMaster.self, RetireMaster.self, GenerateWitness.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new key pair: NAME.key (private, mode 0600: give it to consultd) and NAME.pub (publish it).")
        @Option(help: "Folder to write to.") var out: String = "."
        @Option(help: "File name without extension.") var name: String = "consultd-signing"
        @Option(help: "The log's origin (consultd --log-origin): also write NAME.vkey, the C2SP verifier key witnesses and receipt holders use.")
        var origin: String?

        func run() {
            let key = SigningKey.generate()
            let folder = URL(fileURLWithPath: out)
            let privatePath = folder.appendingPathComponent("\(name).key").path
            let publicPath = folder.appendingPathComponent("\(name).pub").path
            let vkeyPath = folder.appendingPathComponent("\(name).vkey").path
            let vkey = oneLine { try origin.map { try key.publicKey.verifierKey(origin: $0).text } }
            oneLine {
                for path in [privatePath, publicPath] + (vkey == nil ? [] : [vkeyPath]) where FileManager.default.fileExists(atPath: path) {
                    throw CommandFailure("\(path) exists; nothing was written (a key is never overwritten)")
                }
                // The private key is created unreadable by others before anything is written to it.
                guard FileManager.default.createFile(atPath: privatePath, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                    throw CommandFailure("cannot write \(privatePath)")
                }
                try key.fileText.write(toFile: privatePath, atomically: false, encoding: .utf8)
                try key.publicKey.fileText.write(toFile: publicPath, atomically: true, encoding: .utf8)
                if let vkey { try (vkey + "\n").write(toFile: vkeyPath, atomically: true, encoding: .utf8) }
            }
            print("wrote \(privatePath) (keep it secret: consultd --signing-key) and \(publicPath) (publish it)")
            print("key id \(key.publicKey.id)")
            if let vkey { print("wrote \(vkeyPath) (publish it; witnesses use it as --log): \(vkey)") }
        }
    }
}

extension Keys {
    /// `consultctl keys vkey`: the C2SP verifier key of an existing public key under an origin.
    struct VKey: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "vkey", abstract: "Print the C2SP verifier key (vkey) of the log's public key under its origin.")
        @Option(help: "The published public key (consultd-signing.pub).") var publicKey: String
        @Option(help: "The log's origin (consultd --log-origin).") var origin: String

        func run() {
            print(oneLine { try PublicKey.load(publicKey).verifierKey(origin: origin).text })
        }
    }
}

/// `consultctl receipt`: fetch an organisation's receipt over the protocol, or check one offline.
struct ReceiptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt", abstract: "Fetch a receipt for one of your submissions, or check a receipt offline.",
        discussion: """
            Fetch: --organisation, --consultation, --key (the token from $CONSULT_TOKEN or --token), written to --out
            (FILE.tlog-proof: the c2sp.org/tlog-proof@v1 file; otherwise the JSON receipt).
            Check: --check FILE with no database and no network. A .tlog-proof: --log-key VKEY [--witness VKEY ...]
            --quorum K (the event in the proof's extra, the log's signature, k of the witnesses' cosignatures, the
            inclusion proof). A JSON receipt: --public-key FILE (or --log-key): the event's leaf hash, the
            checkpoint's signature, and the event's inclusion in the checkpoint's tree (docs/TRUST.md).
            """)
    @Option(help: "A receipt file to check offline.") var check: String?
    @Option(help: "The operator's published public key (for --check of a JSON receipt).") var publicKey: String?
    @Option(help: "The log's verifier key (consultd-signing.vkey: the string or a file holding it).") var logKey: String?
    @Option(help: "A witness's verifier key (the string or a file); repeat for each witness you trust.") var witness: [String] = []
    @Option(help: "How many of the --witness keys must have cosigned the receipt's checkpoint (default: all of them).") var quorum: Int?
    @OptionGroup var consultd: ConsultdOptions
    @Option(help: "Your organisation id.") var organisation: String?
    @Option(help: "Your token (default: $CONSULT_TOKEN).") var token: String?
    @Option var consultation: String?
    @Option var key: String?
    @Option(help: "Where to write the receipt (default: stdout).") var out: String?

    func run() {
        if let check { return self.check(check) }
        guard let organisation, let consultation, let key else {
            fail("give --check FILE --public-key FILE, or --organisation, --consultation and --key to fetch one")
        }
        let token = token ?? ProcessInfo.processInfo.environment["CONSULT_TOKEN"]
        guard token != nil || consultd.hasClientCertificate else {
            fail("no token: set CONSULT_TOKEN or pass --token (or, over TLS, --client-cert and --client-key)")
        }
        let text = oneLine { () -> String in
            let client = try consultd.connect()
            let auth = try client.request(ConsultdOptions.auth(organisation, token: token))
            guard auth.hasPrefix("OK") else { throw CommandFailure("consultd refused the credential: \(auth)") }
            let reply = try client.request("RECEIPT \(consultation) \(key)")
            guard reply.hasPrefix("OK RECEIPT ") else { throw CommandFailure("consultd: \(reply)") }
            let json = String(reply.dropFirst("OK RECEIPT ".count))
            if out?.hasSuffix(".tlog-proof") == true {
                guard let proof = try JSONParser().parse(json)["tlog_proof"]?.stringValue else {
                    throw CommandFailure("consultd gave no tlog-proof: its log has no origin yet (consultd --log-origin), so its checkpoints are of the first format")
                }
                return proof
            }
            return json + "\n"
        }
        if let out {
            oneLine { try text.write(toFile: out, atomically: true, encoding: .utf8) }
            print("receipt for \(key) written to \(out)")
        } else {
            print(text, terminator: "")
        }
    }

    /// A vkey given as the string itself or as a file holding it.
    static func vkey(_ text: String) throws -> VerifierKey {
        let value = FileManager.default.fileExists(atPath: text)
            ? ((try? String(contentsOfFile: text, encoding: .utf8)) ?? "") : text
        do { return try VerifierKey(parsing: value.trimmingCharacters(in: .whitespacesAndNewlines)) } catch {
            throw CommandFailure("\(text.prefix(80)): \(error)")
        }
    }

    private func check(_ path: String) {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { fail("cannot read \(path)") }
        if text.hasPrefix(TlogProof.header + "\n") { return checkProof(text) }
        guard publicKey != nil || logKey != nil else { fail("--check needs --public-key (the operator's published key) or --log-key") }
        let (receipt, key) = oneLine { () -> (Receipt, PublicKey) in
            let key = try publicKey.map { try PublicKey.loadAny($0) } ?? PublicKey(verifierKey: try Self.vkey(logKey!))
            return (try Receipt(json: try JSONParser.eventData.parse(text)), key)
        }
        var failed: [String] = []
        for (check, passed) in receipt.check(with: key) {
            print("\(passed ? "ok  " : "FAIL") \(check)")
            if !passed { failed.append(check) }
        }
        if !failed.isEmpty { fail("the receipt does not verify: \(failed.joined(separator: "; "))") }
    }

    private func checkProof(_ text: String) {
        guard let logKey else { fail("a .tlog-proof is checked with --log-key VKEY (the log's consultd-signing.vkey), --witness VKEY … and --quorum K") }
        let (log, witnesses) = oneLine { (try Self.vkey(logKey), try witness.map(Self.vkey)) }
        let quorum = self.quorum ?? witnesses.count
        let result = TlogProofCheck.check(text, logKey: log, witnesses: witnesses, quorum: quorum)
        for (check, passed) in result.lines { print("\(passed ? "ok  " : "FAIL") \(check)") }
        if let event = result.event { print("event \(event.type) in \(event.stream), recorded at \(Trust.Checkpoint.iso(microseconds: event.recordedAtMicroseconds))") }
        if !result.passed {
            fail("the receipt does not verify: \(result.lines.filter { !$0.passed }.map(\.check).joined(separator: "; "))")
        }
    }
}
