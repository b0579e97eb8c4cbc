import Domain
import EventLog
import EventRecords
import Foundation
import PostgresClient
import TestSupport
import XCTest

/// A migrated database with two organisations and two consultations, and a daemon serving it, in
/// the clear or (`.tls`) with TLS on its port.
struct Fixture {
    /// How clients reach the daemon.
    enum Transport {
        case plain
        /// TLS on the daemon's port, with the test CA's certificate for localhost and 127.0.0.1
        /// (or the certificate given).
        case tls
        case tlsWith(TestCertificates.Pair)
    }

    let conninfo: String
    let transport: Transport
    /// What clients use for TLS (one context for every connection), nil in the clear.
    let clientTLS: TLSClientConfiguration?
    var daemon: Daemon
    let store: EventStore
    /// Organisation id → its token.
    let tokens: [String: String]

    static let body = #"{"stage": "design", "language": "ar", "text": "Schools need Arabic teachers.", "represents": {"gender": ["female"], "age": ["18-24"]}, "people_consulted": 120, "topics": ["education"]}"#

    /// `database`: a migrated, empty database to use (default: a fresh one on the test cluster).
    init(database: String? = nil, daemonArguments: [String] = [], environment: [String: String] = [:], transport: Transport = .plain) throws {
        self.transport = transport
        clientTLS = try Self.clientConfiguration(for: transport)
        conninfo = try database ?? TestDatabase.fresh()
        store = EventStore(connection: try Connection(conninfo))
        var tokens: [String: String] = [:]
        for (id, type) in [("org-a", "community_based"), ("org-b", "international_ngo")] {
            let token = Credentials.newToken()
            try store.append(
                NewEvent(.organisationRegistered(
                    Organisation(id: id, name: "Organisation \(id)", type: type, leadership: ["refugees"], level: "local", country: "JOR"))))
            try store.append(NewEvent(.credentialIssued(CredentialIssued(organisation: id, credential: "k1", sha256: Credentials.hash(token)))))
            tokens[id] = token
        }
        self.tokens = tokens
        let now = Date()
        try store.append(
            NewEvent(.consultationOpened(
                Consultation(
                    id: "c1", title: "Education access", convener: "UNHCR-JO", opensAt: now.addingTimeInterval(-86_400),
                    closesAt: now.addingTimeInterval(30 * 86_400), stages: ["design", "implementation"], languages: ["ar", "en"],
                    baseline: ["gender": ["female": 0.5, "male": 0.5], "age": ["18-24": 0.3, "25-59": 0.6, "60+": 0.1]]))))
        try store.append(
            NewEvent(.consultationOpened(
                Consultation(
                    id: "c-old", title: "Closed one", convener: "UNHCR-JO", opensAt: now.addingTimeInterval(-60 * 86_400),
                    closesAt: now.addingTimeInterval(-30 * 86_400), stages: ["design"], languages: ["en"],
                    baseline: ["gender": ["female": 0.5, "male": 0.5]]))))
        daemon = try Daemon(conninfo: conninfo, arguments: try Self.transportArguments(transport) + daemonArguments, environment: environment)
    }

    /// Starts a new daemon on the same database (after the old one was killed or stopped).
    mutating func restartDaemon(arguments: [String] = []) throws {
        daemon = try Daemon(conninfo: conninfo, arguments: try Self.transportArguments(transport) + arguments)
    }

    static func transportArguments(_ transport: Transport) throws -> [String] {
        switch transport {
        case .plain: return []
        case .tls: return try transportArguments(.tlsWith(TestCertificates.shared().server))
        case .tlsWith(let pair): return ["--tls-cert", pair.certificate, "--tls-key", pair.key]
        }
    }

    /// The client side of `transport`: TLS trusting the test CA.
    static func clientConfiguration(for transport: Transport) throws -> TLSClientConfiguration? {
        switch transport {
        case .plain: return nil
        case .tls, .tlsWith: return try TLSClientConfiguration(caFile: TestCertificates.shared().ca)
        }
    }

    /// A new connection to the daemon, speaking its transport, not authenticated.
    func connect(readGreeting: Bool = true) throws -> LineClient {
        try LineClient(port: daemon.port, readGreeting: readGreeting, tls: clientTLS)
    }

    /// Keys of stored submissions, with their positions.
    func storedSubmissions() throws -> [String: Int64] {
        var result: [String: Int64] = [:]
        for row in try store.connection.execute(
            "SELECT data->>'organisation' || '/' || (data->>'key') AS k, position FROM consult.events WHERE type = $1",
            [EventType.submissionReceived]
        ).rows {
            let key: String = try row.get("k")
            XCTAssertNil(result[key], "\(key) stored twice")
            result[key] = try row.get("position")
        }
        return result
    }

    /// A connected client, authenticated as `organisation` unless nil.
    func client(as organisation: String? = "org-a") throws -> LineClient {
        let client = try connect()
        if let organisation {
            let reply = try client.request("AUTH \(organisation) \(tokens[organisation]!)")
            guard reply == "OK AUTH \(organisation)" else {
                throw TestEnvironmentError(description: "AUTH failed: \(reply)")
            }
        }
        return client
    }

    func count(type: String) throws -> Int {
        try store.connection.execute("SELECT count(*) AS c FROM consult.events WHERE type = $1", [type]).first!.get("c")
    }
}
