import ArgumentParser
import Foundation
import Vault

/// The release `consultd` beside this executable, on a free port (or on `ports`: `--port` the first,
/// the others given in `extra`, all listened on before it counts as started).
final class DaemonProcess {
    let pid: pid_t
    let port: UInt16
    /// Just before the spawn, and when its ports were first seen listening.
    let spawned: Date
    let listening: Date

    /// A master key for the benchmark's daemons (consultd seals personal content, docs/PRIVACY.md).
    static let masterKeyFile: String = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("consult-bench-\(UUID().uuidString).key").path
        FileManager.default.createFile(atPath: path, contents: Data(MasterKey.generate().fileText.utf8), attributes: [.posixPermissions: 0o600])
        return path
    }()

    /// Waits up to `timeout` seconds for the ports, looking every `poll` seconds; a daemon that
    /// exits or does not listen in time is an error (and is stopped).
    init(conninfo: String, extra: [String] = [], ports: [UInt16]? = nil, timeout: Double = 15, poll: Double = 0.05) throws {
        let path = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("consultd").path
        // The throughput runs pipeline thousands of requests per connection at once, so the last wait
        // behind the others for longer than a request's deadline (--database-timeout from its
        // arrival, 5 s by default): they would be answered BUSY, which measures the backlog, not
        // the write path. A later --database-timeout in `extra` overrides this one.
        let arguments = [path, "--database", conninfo, "--port", String(ports?.first ?? 0), "--log-level", "warning", "--master-key-file", Self.masterKeyFile,
                         "--database-timeout", "60"] + extra
        let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var child: pid_t = 0
        spawned = Date()
        guard posix_spawn(&child, path, nil, nil, argv, envp) == 0 else { throw ValidationError("cannot start \(path)") }
        pid = child
        // The daemon logs its port at info level, which --log-level warning hides: find it from /proc.
        var found: Set<UInt16> = []
        let wanted = Set(ports ?? [])
        let deadline = spawned.addingTimeInterval(timeout)
        while found.isEmpty || !found.isSuperset(of: wanted) {
            var status: Int32 = 0
            if waitpid(child, &status, WNOHANG) == child { throw ValidationError("consultd exited while starting (status \(status))") }
            guard Date() < deadline else {
                // Not initialised, so deinit will not stop it: done here.
                kill(child, SIGTERM)
                waitpid(child, &status, 0)
                throw ValidationError("consultd did not start listening in \(Int(timeout)) s")
            }
            found = Self.listeningPorts(of: child)
            if found.isEmpty || !found.isSuperset(of: wanted) { Thread.sleep(forTimeInterval: poll) }  // polling another process
        }
        listening = Date()
        port = ports?.first ?? found.first!
    }

    /// The TCP ports the process listens on, from /proc/net/tcp and its file descriptors.
    static func listeningPorts(of pid: pid_t) -> Set<UInt16> {
        guard let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return [] }
        let inodes = Set(descriptors.compactMap { fd -> String? in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                target.hasPrefix("socket:[") else { return nil }
            return String(target.dropFirst(8).dropLast())
        })
        var ports: Set<UInt16> = []
        for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let table = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            for line in table.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9, fields[3] == "0A", inodes.contains(String(fields[9])),
                    let port = UInt16(fields[1].split(separator: ":").last ?? "", radix: 16)
                else { continue }
                ports.insert(port)
            }
        }
        return ports
    }

    /// Returns once the resident memory has stayed within 256 KiB for two seconds (polled: the
    /// daemon does not say when its start-up work is done).
    func waitUntilMemorySettles() throws {
        let deadline = Date().addingTimeInterval(120)
        var samples: [Double] = []
        while Date() < deadline {
            samples.append(memory("VmRSS"))
            if samples.count >= 9, let low = samples.suffix(9).min(), let high = samples.suffix(9).max(), high - low < 256 { return }
            Thread.sleep(forTimeInterval: 0.25)  // a bench's wait for another process's progress
        }
        throw ValidationError("consultd's memory did not settle")
    }

    /// A memory figure from /proc/PID/status, in KiB.
    func memory(_ field: String) -> Double {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(field + ":") } ?? ""
        return Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }

    private var stopped = false

    func stop() {
        guard !stopped else { return }
        stopped = true
        kill(pid, SIGTERM)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
    }

    /// A benchmark that fails part way must not leave a daemon running.
    deinit { stop() }
}
