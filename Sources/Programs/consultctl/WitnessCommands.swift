import ArgumentParser
import Dispatch
import Foundation
import Logging
import TLS
import Transparency
import Witness

#if canImport(Glibc)
import Glibc
#endif

/// `consultctl keys generate-witness`: a witness's Ed25519 cosigning key, as C2SP signer and verifier keys.
struct GenerateWitness: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate-witness",
        abstract: "Write a witness key: witness.key (private, mode 0600: give it to `witness serve`) and witness.vkey (publish it).",
        discussion: """
            The key is a C2SP signer key, PRIVATE+KEY+<name>+<key id>+<base64>, and the verifier key is
            <name>+<key id>+<base64>; both use signature type 0x04 (tlog-cosignature v1), so the key ID is
            the one its cosignatures carry. --name is the witness's name, best a schema-less URL
            (witness.example.org/w1): it names the witness's signature lines.
            """)
    @Option(help: "The witness's name (a schema-less URL, no spaces or +).") var name: String
    @Option(help: "Folder to write witness.key and witness.vkey to.") var out: String = "."

    func run() {
        let folder = URL(fileURLWithPath: out)
        let privatePath = folder.appendingPathComponent("witness.key").path
        let publicPath = folder.appendingPathComponent("witness.vkey").path
        let key = oneLine { () -> SignerKey in
            for path in [privatePath, publicPath] where FileManager.default.fileExists(atPath: path) {
                throw CommandFailure("\(path) exists; nothing was written (a key is never overwritten)")
            }
            let key = try SignerKey.generate(name: name, type: .cosignatureV1)
            // Each file is created here or not at all (O_EXCL: a file that appeared since the check
            // above, or a symlink planted there, is never written through), the private key with
            // mode 0600 from its creation, and each is on disk before the command says so.
            try Self.createNew(privatePath, contents: key.text + "\n", mode: 0o600)
            do {
                try Self.createNew(publicPath, contents: key.verifierKey.text + "\n", mode: 0o644)
            } catch {
                unlink(privatePath)  // the one this command just created: nothing is left half written
                throw error
            }
            return key
        }
        FileHandle.standardError.write(Data("wrote \(privatePath) (keep it secret: witness serve --key) and \(publicPath) (publish it)\n".utf8))
        print(key.verifierKey.text)
    }
}

extension GenerateWitness {
    /// Creates `path` (it must not exist), writes `contents` and fsyncs it.
    static func createNew(_ path: String, contents: String, mode: mode_t) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard fd >= 0 else {
            let code = errno
            if code == EEXIST { throw CommandFailure("\(path) exists; it was not written (a key is never overwritten)") }
            throw CommandFailure("cannot create \(path): \(String(cString: strerror(code)))")
        }
        // The mode is set at creation; the umask may only have narrowed it, which is fine.
        let bytes = Array(contents.utf8)
        var written = 0
        while written < bytes.count {
            let count = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd)
                throw CommandFailure("cannot write \(path): \(reason)")
            }
            written += count
        }
        guard fsync(fd) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw CommandFailure("cannot sync \(path): \(reason)")
        }
        guard close(fd) == 0 else { throw CommandFailure("cannot write \(path): \(String(cString: strerror(errno)))") }
    }
}

/// `consultctl witness`: a tlog-witness for any C2SP log.
struct WitnessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "witness", abstract: "A transparency-log witness (C2SP tlog-witness) for any C2SP log.",
        subcommands: [Serve.self])

    struct Serve: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve POST <prefix>/add-checkpoint: cosign each log's checkpoints that extend the last one cosigned.",
            discussion: """
                Each --log is a log's verifier key (a vkey string, or a file holding one); its name is the log's
                origin. The state file keeps the latest cosigned checkpoint per log; it is written durably before
                each answer and must not be shared. The first start makes it (said loudly, as NEW STATE); after
                that a missing state file stops the witness (its lock file beside it shows one was kept), since a
                witness that forgets its state can be made to cosign a fork. docs/TRUST.md, "Witnesses".
                """)
        @Option(help: "Address and port to listen on (HOST:PORT; port 0 picks a free one).") var listen: String
        @Option(help: "The witness's signer key file (from `keys generate-witness`).") var key: String
        @Option(help: "A log's verifier key (or a file holding one); repeat for each log.") var log: [String] = []
        @Option(help: "The state file (made on the witness's first start; after that it must exist).") var state: String
        @Flag(help: "Start a new, empty state file even where one was kept before (refused if --state exists).") var newState = false
        @Option(help: "URL path prefix of the routes (default: none, i.e. /add-checkpoint).") var prefix: String = ""
        @Option(help: "TLS certificate (PEM) for facing the internet; with --tls-key.") var tlsCert: String?
        @Option(help: "TLS private key (PEM).") var tlsKey: String?
        @Option(help: "Most connections open at once.") var maxConnections: Int = 64
        @Option(help: "Seconds allowed for each request, from its first byte to the answer's last.") var requestTimeout: Double = 10

        func run() {
            let (host, port) = oneLine { try Self.address(listen) }
            let cosigner = oneLine { () -> Cosigner in
                guard let text = try? String(contentsOfFile: key, encoding: .utf8) else { throw CommandFailure("cannot read \(key)") }
                do {
                    return Cosigner(key: try SignerKey(parsing: text.trimmingCharacters(in: .whitespacesAndNewlines)))
                } catch {
                    throw CommandFailure("\(key): \(error)")
                }
            }
            guard !log.isEmpty else { fail("give at least one --log VKEY (the logs this witness cosigns for)") }
            let logKeys = oneLine { try log.map(Self.logKey) }
            for logKey in logKeys where logKey.type != .ed25519 {
                fail("--log \(logKey.text): a log's key signs checkpoints with Ed25519 (type 0x01), not a cosignature key")
            }
            guard (tlsCert == nil) == (tlsKey == nil) else { fail("--tls-cert and --tls-key go together") }
            let tls = oneLine { () -> TLSContext? in
                guard let tlsCert, let tlsKey else { return nil }
                return try TLSContext.server(certificateFile: tlsCert, keyFile: tlsKey)
            }
            let store = oneLine { try WitnessStore(path: state, createNew: newState) }
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = .info
                return handler
            }
            let logger = Logger(label: "witness")
            if store.created {
                logger.warning("witness NEW STATE created at \(state): this witness has cosigned nothing yet and trusts no earlier checkpoint of any log; if it has cosigned before, stop it and restore its state")
            }
            let service = WitnessService(cosigner: cosigner, logKeys: logKeys, store: store, prefix: prefix)
            var limits = WitnessHTTPServer.Limits()
            limits.maxConnections = maxConnections
            limits.requestTimeout = requestTimeout
            let server = WitnessHTTPServer(
                host: host, port: port, tls: tls, limits: limits, log: { logger.info("\($0)") },
                handler: { service.handle(method: $0, path: $1, body: $2) })
            let bound = oneLine { try server.start() }
            if let mode = (try? FileManager.default.attributesOfItem(atPath: key))?[.posixPermissions] as? NSNumber, mode.intValue & 0o077 != 0 {
                logger.warning("the witness key \(key) is readable or writable by others (mode \(String(mode.intValue, radix: 8))): chmod 600 it")
            }
            let origins = Set(logKeys.map(\.name)).sorted().joined(separator: ",")
            logger.info("witness listening=\(host.contains(":") ? "[\(host)]" : host):\(bound) tls=\(tls != nil) vkey=\(cosigner.verifierKey.text) logs=\(origins) state=\(state)")
            for signal in [SIGTERM, SIGINT] {
                Foundation.signal(signal, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: signal, queue: .main)
                source.setEventHandler {
                    logger.info("witness stopping")
                    server.stop()
                    Foundation.exit(0)
                }
                source.resume()
                Self.signalSources.withLock { $0.append(source) }
            }
            dispatchMain()
        }

        /// Keeps the signal sources alive.
        static let signalSources = SignalSources([])

        /// HOST:PORT, [IPv6]:PORT.
        static func address(_ text: String) throws -> (String, UInt16) {
            guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
                throw CommandFailure("--listen \(text): give HOST:PORT")
            }
            var host = String(text[..<colon])
            if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
            guard !host.isEmpty else { throw CommandFailure("--listen \(text): give HOST:PORT") }
            return (host, port)
        }

        static func logKey(_ text: String) throws -> VerifierKey {
            if let key = try? VerifierKey(parsing: text) { return key }
            if FileManager.default.fileExists(atPath: text) {
                guard let contents = try? String(contentsOfFile: text, encoding: .utf8) else { throw CommandFailure("cannot read \(text)") }
                do { return try VerifierKey(parsing: contents.trimmingCharacters(in: .whitespacesAndNewlines)) } catch {
                    throw CommandFailure("\(text): \(error)")
                }
            }
            do { return try VerifierKey(parsing: text) } catch { throw CommandFailure("--log \(text): \(error)") }
        }
    }
}

/// The signal sources `witness serve` keeps alive, behind a lock.
final class SignalSources: @unchecked Sendable {
    private let lock = NSLock()
    private var sources: [DispatchSourceSignal]
    init(_ sources: [DispatchSourceSignal]) { self.sources = sources }
    func withLock(_ body: (inout [DispatchSourceSignal]) -> Void) {
        lock.lock()
        defer { lock.unlock() }
        body(&sources)
    }
}
