import ArgumentParser
import Foundation
import JSON
import LineClient
import LineProtocol

/// `consultctl submit`: the protocol client for organisations and scripts.
struct Submit: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send one submission, or a JSON-lines file of them, to consultd.",
        discussion: """
            The token is read from $CONSULT_TOKEN unless --token is given (a flag shows in the process list);
            with --tls and a client certificate the operator accepts (--client-cert, --client-key), no token is needed.
            A file has one JSON object per line: {"consultation": ID, "key": KEY, "submission": {...}}.
            Submissions are pipelined; every failure is reported on stderr with its line, and the exit
            code is non-zero if any failed. Re-running the same file is safe: stored keys answer with
            their original position.
            """)

    @OptionGroup var consultd: ConsultdOptions
    @Option(help: "Your organisation id.") var organisation: String
    @Option(help: "Your token (default: $CONSULT_TOKEN).") var token: String?
    @Option(help: "Consultation id, for one submission.") var consultation: String?
    @Option(help: "Submission key, for one submission.") var key: String?
    @Option(help: "The submission's JSON body, for one submission.") var body: String?
    @Option(help: "A JSON-lines file of submissions.") var file: String?
    @Option(help: "Keep a receipt for every acknowledged submission in this folder: <consultation>.<key>.tlog-proof (or .receipt.json from a log without an origin), fetched once a checkpoint covers it.")
    var receipts: String?
    @Option(help: "Seconds to wait for the checkpoints covering the submissions (with --receipts).") var receiptTimeout: Double = 120

    struct Item {
        let line: Int
        let consultation: String
        let key: String
        let request: String
    }

    func run() throws {
        let token = token ?? ProcessInfo.processInfo.environment["CONSULT_TOKEN"]
        guard token != nil || consultd.hasClientCertificate else {
            fail("no token: set CONSULT_TOKEN or pass --token (or, over TLS, --client-cert and --client-key)")
        }
        let items: [Item]
        switch (file, consultation, key, body) {
        case (let file?, nil, nil, nil): items = try load(file)
        case (nil, let consultation?, let key?, let body?):
            items = [Item(line: 1, consultation: consultation, key: key, request: "SUBMIT \(consultation) \(key) \(body)")]
        default:
            fail("give either --file, or --consultation, --key and --body")
        }

        let client: LineClient
        do {
            client = try consultd.connect()
            let auth = try client.request(ConsultdOptions.auth(organisation, token: token))
            guard auth.hasPrefix("OK") else { fail("authentication refused: \(auth)") }
        } catch {
            fail("\(error)")
        }

        // One thread writes every request while this one reads the replies, which come in order.
        let sender = Thread {
            for item in items { try? client.send(item.request) }
        }
        sender.start()
        var failures = 0
        var acknowledged: [Item] = []
        let showProgress = items.count >= 1_000
        for (index, item) in items.enumerated() {
            guard let reply = try? client.readLine() else {
                fail("connection lost after \(index) of \(items.count) replies; re-run to send the rest safely")
            }
            if reply.hasPrefix("OK SUBMIT") {
                acknowledged.append(item)
                if items.count == 1 { print(reply) }
            } else {
                failures += 1
                FileHandle.standardError.write(Data("line \(item.line) (key \(item.key)): \(reply)\n".utf8))
            }
            if showProgress && ((index + 1) % 1_000 == 0 || index + 1 == items.count) {
                FileHandle.standardError.write(Data("\rsubmitted \(index + 1)/\(items.count), \(failures) failed".utf8))
            }
        }
        if showProgress { FileHandle.standardError.write(Data("\n".utf8)) }
        if let receipts { failures += keepReceipts(acknowledged, in: receipts, client: client) }
        _ = try? client.request("QUIT")
        if items.count > 1 { print("\(items.count - failures) stored, \(failures) failed") }
        if failures > 0 { throw ExitCode(1) }
    }

    /// Asks RECEIPT for each acknowledged submission until a checkpoint covers it (ERR BUSY until
    /// then), and writes it; returns how many could not be kept.
    private func keepReceipts(_ items: [Item], in folder: String, client: LineClient) -> Int {
        do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
            fail("cannot create \(folder): \(error)")
        }
        let deadline = Date().addingTimeInterval(receiptTimeout)
        var missing = 0
        for item in items {
            while true {
                guard let reply = try? client.request("RECEIPT \(item.consultation) \(item.key)") else {
                    fail("connection lost while fetching receipts; re-run with the same file to fetch them safely")
                }
                if reply.hasPrefix("OK RECEIPT ") {
                    let json = String(reply.dropFirst("OK RECEIPT ".count))
                    let base = URL(fileURLWithPath: folder).appendingPathComponent("\(item.consultation).\(item.key)").path
                    do {
                        if let proof = (try? JSONParser().parse(json))?["tlog_proof"]?.stringValue {
                            try proof.write(toFile: base + ".tlog-proof", atomically: true, encoding: .utf8)
                        } else {
                            try (json + "\n").write(toFile: base + ".receipt.json", atomically: true, encoding: .utf8)
                        }
                    } catch {
                        fail("cannot write the receipt of \(item.key) in \(folder): \(error)")
                    }
                    break
                }
                if reply.hasPrefix("ERR BUSY") && Date() < deadline {
                    Thread.sleep(forTimeInterval: 0.5)  // the next checkpoint is seconds away; nothing signals a client
                    continue
                }
                missing += 1
                FileHandle.standardError.write(Data("line \(item.line) (key \(item.key)): no receipt: \(reply)\n".utf8))
                break
            }
        }
        return missing
    }

    private func load(_ path: String) throws -> [Item] {
        guard let data = FileManager.default.contents(atPath: path) else { fail("cannot read \(path)") }
        let parser = JSONParser()
        var items: [Item] = []
        for (index, line) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x0D }) { continue }
            guard let value = try? parser.parse(line), let consultation = value["consultation"]?.stringValue,
                let key = value["key"]?.stringValue, let submission = value["submission"],
                Request.isToken(consultation), Request.isToken(key)
            else {
                fail("\(path) line \(index + 1): expected {\"consultation\": ID, \"key\": KEY, \"submission\": {...}}")
            }
            items.append(Item(line: index + 1, consultation: consultation, key: key, request: "SUBMIT \(consultation) \(key) \(submission.serialized)"))
        }
        return items
    }
}
