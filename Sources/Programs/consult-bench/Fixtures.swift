import ArgumentParser
import Domain
import EventLog
import EventRecords
import Foundation
import JSON

/// What the scenarios share: the submission body, the consultations, the 64 organisations and
/// their tokens, and free ports.
extension Bench {
    /// A realistic submission of about 400 bytes.
    static let body = JSONValue.object([
        ("stage", .string("design")), ("language", .string("ar")),
        ("text", .string("Girls in our camp leave school at fourteen because the bus to the secondary school costs too much and families need them at home; a small stipend and a safe route would keep hundreds of them enrolled.")),
        ("represents", .object([("gender", .array([.string("female")])), ("age", .array([.string("18-24")]))])),
        ("people_consulted", .number("120")), ("topics", .array([.string("education"), .string("transport")])),
    ]).serialized

    static func consultation(_ id: String) -> Consultation {
        Consultation(
            id: id, title: "Benchmark \(id)", convener: "bench", opensAt: Date().addingTimeInterval(-86_400),
            closesAt: Date().addingTimeInterval(365 * 86_400), stages: ["design", "implementation"], languages: ["ar", "en"],
            baseline: ["gender": ["female": 0.5, "male": 0.5], "age": ["18-24": 0.3, "25-59": 0.6, "60+": 0.1]])
    }

    /// Organisations o1…o64 with a credential each; returns their tokens in order.
    static func registerOrganisations(_ store: EventStore) throws -> [String] {
        var tokens: [String] = []
        for index in 1...64 {
            let token = Credentials.newToken()
            try store.append(batch: [
                NewEvent(.organisationRegistered(Organisation(
                    id: "o\(index)", name: "O\(index)", type: "ngo", leadership: index % 3 == 0 ? ["refugees"] : [], level: "local", country: "JOR"))),
                NewEvent(.credentialIssued(CredentialIssued(organisation: "o\(index)", credential: "k1", sha256: Credentials.hash(token)))),
            ])
            tokens.append(token)
        }
        return tokens
    }

    /// Ports free now on 127.0.0.1 (the kernel's choice for port 0, released again).
    static func freePorts(_ count: Int) throws -> [UInt16] {
        var sockets: [Int32] = []
        defer { sockets.forEach { close($0) } }
        return try (0..<count).map { _ in
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            sockets.append(fd)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let bound = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            }
            guard bound else { throw ValidationError("no free port") }
            return UInt16(bigEndian: address.sin_port)
        }
    }

}

/// Runs `body` on `count` threads of its own at once (concurrentPerform would run only as many
/// at a time as there are cores, which turns concurrent clients into queued ones) and waits for all.
func parallel(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    let done = DispatchGroup()
    for index in 0..<count {
        done.enter()
        let thread = Thread {
            body(index)
            done.leave()
        }
        thread.stackSize = 1 << 20
        thread.start()
    }
    done.wait()
}
