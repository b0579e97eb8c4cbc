import ArgumentParser
import Domain
import Foundation
import JSON
import LineClient
import Trust

/// `consultctl keys`: the operator's signing key for checkpoints and master key for personal content.
struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The operator's keys: the Ed25519 pair that signs checkpoints, the master key that seals personal content, and a witness's cosigning key.",
        subcommands: [Generate.self, GenerateMaster.self, RotateMaster.self, RetireMaster.self, GenerateWitness.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a new key pair: NAME.key (private, mode 0600: give it to consultd) and NAME.pub (publish it).")
        @Option(help: "Folder to write to.") var out: String = "."
        @Option(help: "File name without extension.") var name: String = "consultd-signing"

        func run() {
            let key = SigningKey.generate()
            let folder = URL(fileURLWithPath: out)
            let privatePath = folder.appendingPathComponent("\(name).key").path
            let publicPath = folder.appendingPathComponent("\(name).pub").path
            oneLine {
                for path in [privatePath, publicPath] where FileManager.default.fileExists(atPath: path) {
                    throw CommandFailure("\(path) exists; nothing was written (a key is never overwritten)")
                }
                // The private key is created unreadable by others before anything is written to it.
                guard FileManager.default.createFile(atPath: privatePath, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                    throw CommandFailure("cannot write \(privatePath)")
                }
                try key.fileText.write(toFile: privatePath, atomically: false, encoding: .utf8)
                try key.publicKey.fileText.write(toFile: publicPath, atomically: true, encoding: .utf8)
            }
            print("wrote \(privatePath) (keep it secret: consultd --signing-key) and \(publicPath) (publish it)")
            print("key id \(key.publicKey.id)")
        }
    }
}

/// `consultctl receipt`: fetch an organisation's receipt over the protocol, or check one offline.
struct ReceiptCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receipt", abstract: "Fetch a receipt for one of your submissions, or check a receipt offline.",
        discussion: """
            Fetch: --organisation, --consultation, --key (the token from $CONSULT_TOKEN or --token), written to --out.
            Check: --check FILE --public-key FILE, with no database and no network: the event's leaf hash, the
            checkpoint's signature, and the event's inclusion in the checkpoint's tree (docs/TRUST.md).
            """)
    @Option(help: "A receipt file to check offline.") var check: String?
    @Option(help: "The operator's published public key (for --check).") var publicKey: String?
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
            return String(reply.dropFirst("OK RECEIPT ".count)) + "\n"
        }
        if let out {
            oneLine { try text.write(toFile: out, atomically: true, encoding: .utf8) }
            print("receipt for \(key) written to \(out)")
        } else {
            print(text, terminator: "")
        }
    }

    private func check(_ path: String) {
        guard let publicKey else { fail("--check needs --public-key (the operator's published key)") }
        let (receipt, key) = oneLine { () -> (Receipt, PublicKey) in
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw CommandFailure("cannot read \(path)") }
            return (try Receipt(json: try JSONParser.eventData.parse(text)), try PublicKey.load(publicKey))
        }
        var failed: [String] = []
        for (check, passed) in receipt.check(with: key) {
            print("\(passed ? "ok  " : "FAIL") \(check)")
            if !passed { failed.append(check) }
        }
        if !failed.isEmpty { fail("the receipt does not verify: \(failed.joined(separator: "; "))") }
    }
}
