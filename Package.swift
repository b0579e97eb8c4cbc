// swift-tools-version:6.0
import PackageDescription

// The module graph: who may import whom among this package's modules. scripts/check-architecture
// (run by scripts/test before the build) fails on an `import` it does not allow, naming file, line
// and arrow, and on a cycle. This block is the one place it is written: change it with the code.
// Arrows point towards the core (JSON, Domain, PostgresClient, the C libraries); `# to remove`
// marks arrows the project means to take away, allowed until then.
// architecture:begin
//   CLibPQ ->
//   CLibSSL ->
//   CVersion ->
//   JSON ->                                    # pure
//   Locking ->                                 # a value behind a lock
//   Sockets ->                                 # a listening TCP socket
//   Merkle ->                                  # pure (and swift-crypto)
//   Version -> CVersion                        # the commit, given to the build as a C macro
//   PostgresClient -> CLibPQ, JSON             # the one door to PostgreSQL
//   EventRecords -> JSON                       # pure: the log's rows as values
//   TLS -> CLibSSL
//   LineProtocol -> JSON                       # pure
//   ConnectionCore -> LineProtocol, JSON       # pure
//   Domain -> JSON, EventRecords               # pure (and swift-crypto)
//   EventLog -> PostgresClient, EventRecords, JSON
//   Migrations -> PostgresClient
//   Participation -> Domain, EventRecords, JSON      # pure
//   WriteDecision -> Domain, EventRecords, LineProtocol, JSON   # pure: a write from its shape to its reply's outcome
//   HTTPServer -> Sockets, TLS                 # a small HTTP/1.1 server: the pure request parser, bounds, plain and TLS
//   Observability -> HTTPServer                # runs no SQL: the daemon hands it what to measure
//   Transparency -> Merkle                     # pure: C2SP signed notes, checkpoints, cosignatures, tlog-proof, tiles
//   Trust -> Merkle, JSON, PostgresClient, Transparency, EventRecords   # the tree, checkpoints (both forms), receipts, witness submission, tiles served
//   Witness -> Transparency, Merkle, HTTPServer, TLS   # tlog-witness: the pure decision, its state file, its routes
//   Vault -> EventLog, Domain, JSON, PostgresClient, Locking, EventRecords
//   LogWriter -> Vault, EventLog, EventRecords, Domain, PostgresClient, WriteDecision   # seal and append: the one way events are written
//   LineClient -> TLS
//   Projections -> Participation, Domain, EventLog, PostgresClient, JSON, Locking
//   Server -> ConnectionCore, LineProtocol, Domain, EventLog, PostgresClient, JSON, Trust, Vault, TLS, Observability, Sockets, Locking, EventRecords, WriteDecision, LogWriter
//   DaemonConfiguration -> Server, Trust, PostgresClient   # consultd's options settled into one value (no I/O), and its start and stop order
//   consultd -> DaemonConfiguration, Server, Projections, Participation, Trust, Vault, Migrations, Observability, PostgresClient, JSON, Locking, Version
//   consultctl -> Projections, Participation, Trust, Merkle, Transparency, Witness, TLS, Vault, Migrations, EventLog, Domain, LineClient, LineProtocol, PostgresClient, JSON, Version, EventRecords, LogWriter
//   consult-bench -> Projections, Participation, Trust, Vault, Migrations, EventLog, Domain, LineClient, PostgresClient, JSON, Locking, EventRecords
//   TestSupport -> Migrations, PostgresClient, LineClient, Locking
//   ConnectionCoreTests -> ConnectionCore, LineProtocol, Domain
//   DaemonConfigurationTests -> DaemonConfiguration, Server, Trust, Transparency
//   DaemonTests -> TestSupport, Domain, EventLog, LineProtocol, Participation, Projections, PostgresClient, JSON, Trust, Merkle, Transparency, Vault, TLS, Version, EventRecords, Migrations
//   DomainTests -> Domain, JSON, LineProtocol, EventRecords
//   EventLogTests -> EventLog, PostgresClient, TestSupport, EventRecords, JSON
//   LineProtocolTests -> LineProtocol, JSON
//   MerkleTests -> Merkle
//   ParticipationTests -> Participation, Domain, JSON, EventRecords
//   MigrationsTests -> Migrations, TestSupport, PostgresClient, Domain
//   HTTPServerTests -> HTTPServer
//   ObservabilityTests -> Observability
//   ServerTests -> Server
//   PostgresClientTests -> PostgresClient, TestSupport, JSON
//   TLSConnectionTests -> TLS, TestSupport
//   TransparencyTests -> Transparency, Merkle
//   WitnessTests -> Witness, Transparency, Merkle, TestSupport
//   VaultTests -> Vault, Domain, JSON
//   WriteDecisionTests -> WriteDecision, Domain, EventRecords, LineProtocol, JSON
// architecture:end
//
// Prometheus's text format is written by hand in Observability (about 260 lines, checked by promtool
// on a running daemon), not with swift-metrics and swift-prometheus: they would bring three packages
// (with swift-atomics) and some 15,000 lines to build on every CI run for the same counters, gauges and
// histograms; metrics made through swift-metrics' API carry no help text, which promtool refuses; and
// none of our dependencies reports through swift-metrics, so there is nothing more to collect.
let package = Package(
    name: "consultd",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "consultd", targets: ["consultd"]),
        .executable(name: "consultctl", targets: ["consultctl"]),
        .executable(name: "consult-bench", targets: ["consult-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
    ],
    targets: [
        // The pure core: values and decisions, no I/O (Sources/Core).
        .target(name: "JSON", path: "Sources/Core/JSON"),
        .target(name: "Locking", path: "Sources/Core/Locking"),
        .target(name: "EventRecords", dependencies: ["JSON"], path: "Sources/Core/EventRecords"),
        .target(
            name: "Domain",
            dependencies: [
                "EventRecords", "JSON",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Core/Domain"),
        .target(name: "Participation", dependencies: ["Domain", "EventRecords", "JSON"], path: "Sources/Core/Participation"),
        .target(name: "Merkle", dependencies: [.product(name: "Crypto", package: "swift-crypto")], path: "Sources/Core/Merkle"),
        .target(
            name: "Transparency",
            dependencies: [
                "Merkle",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Core/Transparency"),
        .target(name: "LineProtocol", dependencies: ["JSON"], path: "Sources/Core/LineProtocol"),
        .target(
            name: "WriteDecision", dependencies: ["Domain", "EventRecords", "JSON", "LineProtocol"], path: "Sources/Core/WriteDecision"),
        .target(
            name: "ConnectionCore",
            dependencies: [
                "JSON", "LineProtocol",
                .product(name: "DequeModule", package: "swift-collections"),
            ],
            path: "Sources/Core/ConnectionCore"),
        // What talks to PostgreSQL (Sources/Storage).
        .systemLibrary(name: "CLibPQ", path: "Sources/Storage/CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "PostgresClient", dependencies: ["CLibPQ", "JSON"], path: "Sources/Storage/PostgresClient"),
        .target(name: "EventLog", dependencies: ["EventRecords", "JSON", "PostgresClient"], path: "Sources/Storage/EventLog"),
        .target(name: "Migrations", dependencies: ["PostgresClient"], path: "Sources/Storage/Migrations"),
        .target(
            name: "Vault",
            dependencies: [
                "Domain", "EventLog", "EventRecords", "JSON", "Locking", "PostgresClient",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Storage/Vault"),
        .target(
            name: "LogWriter",
            dependencies: [
                "Domain", "EventLog", "EventRecords", "PostgresClient", "Vault", "WriteDecision",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Storage/LogWriter"),
        .target(
            name: "Trust",
            dependencies: [
                "EventRecords", "JSON", "Merkle", "PostgresClient", "Transparency",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Storage/Trust"),
        .target(
            name: "Projections",
            dependencies: [
                "Domain", "EventLog", "JSON", "Locking", "Participation", "PostgresClient",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Storage/Projections"),
        // What talks to sockets, TLS and HTTP (Sources/Network).
        .systemLibrary(name: "CLibSSL", path: "Sources/Network/CLibSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .target(name: "TLS", dependencies: ["CLibSSL"], path: "Sources/Network/TLS"),
        .target(name: "Sockets", path: "Sources/Network/Sockets"),
        .target(name: "LineClient", dependencies: ["TLS"], path: "Sources/Network/LineClient"),
        .target(name: "HTTPServer", dependencies: ["Sockets", "TLS"], path: "Sources/Network/HTTPServer"),
        .target(name: "Observability", dependencies: ["HTTPServer"], path: "Sources/Network/Observability"),
        .target(
            name: "Witness",
            dependencies: [
                "HTTPServer", "Merkle", "TLS", "Transparency",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/Network/Witness"),
        .target(
            name: "Server",
            dependencies: [
                "ConnectionCore", "Domain", "EventLog", "EventRecords", "JSON", "LineProtocol", "Locking", "LogWriter", "Merkle",
                "Observability", "PostgresClient", "Sockets", "TLS", "Trust", "Vault", "WriteDecision",
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Network/Server"),
        // The programs and their version (Sources/Programs).
        .target(name: "CVersion", path: "Sources/Programs/CVersion"),
        .target(name: "Version", dependencies: ["CVersion"], path: "Sources/Programs/Version"),
        .target(
            name: "DaemonConfiguration",
            dependencies: [
                "PostgresClient", "Server", "Trust",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Programs/DaemonConfiguration"),
        .executableTarget(
            name: "consultd",
            dependencies: [
                "DaemonConfiguration", "JSON", "Locking", "Migrations", "Observability", "Participation", "PostgresClient", "Projections",
                "Server", "Trust", "Vault", "Version",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Programs/consultd"),
        .executableTarget(
            name: "consultctl",
            dependencies: [
                "Domain", "EventLog", "EventRecords", "JSON", "LineClient", "LineProtocol", "LogWriter", "Merkle", "Migrations",
                "Participation", "PostgresClient", "Projections", "Transparency", "Trust", "Vault", "Version",
                "Witness",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Programs/consultctl"),
        .executableTarget(
            name: "consult-bench",
            dependencies: [
                "Domain", "EventLog", "EventRecords", "JSON", "LineClient", "Locking", "Migrations",
                "Participation", "PostgresClient", "Projections", "Trust", "Vault",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Sources/Programs/consult-bench"),
        .testTarget(name: "PostgresClientTests", dependencies: ["JSON", "PostgresClient", "TestSupport"]),
        .testTarget(name: "EventLogTests", dependencies: ["EventRecords", "JSON", "EventLog", "Migrations", "TestSupport"]),
        .testTarget(
            name: "MigrationsTests", dependencies: ["Migrations", "TestSupport", "PostgresClient", "Domain"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "DaemonTests",
            dependencies: ["EventRecords", "TestSupport", "Domain", "EventLog", "LineProtocol", "Participation", "Projections", "PostgresClient", "JSON", "Trust", "Merkle", "Vault",
                "TLS", "Version", "Observability", "Transparency", "Migrations", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(
            name: "DaemonConfigurationTests",
            dependencies: [
                "DaemonConfiguration", "Server", "Transparency", "Trust", .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "LineProtocolTests", dependencies: ["LineProtocol", "JSON"]),
        .testTarget(name: "WriteDecisionTests", dependencies: ["WriteDecision", "Domain", "EventRecords", "JSON", "LineProtocol"]),
        .testTarget(name: "MerkleTests", dependencies: ["Merkle"]),
        .testTarget(name: "TransparencyTests", dependencies: ["Transparency", "Merkle", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "WitnessTests", dependencies: ["Witness", "Transparency", "Merkle", "TestSupport"]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "ObservabilityTests", dependencies: ["Observability"]),
        .testTarget(name: "ServerTests", dependencies: ["Server"]),
        .testTarget(
            name: "VaultTests", dependencies: ["Vault", "Domain", "EventLog", "JSON", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "TLSConnectionTests", dependencies: ["TLS", "TestSupport"]),
        .testTarget(name: "ConnectionCoreTests", dependencies: ["ConnectionCore", "LineProtocol", "JSON", "Domain"]),
        .testTarget(name: "ParticipationTests", dependencies: ["EventRecords", "Participation", "Domain", "JSON"]),
        .testTarget(name: "DomainTests", dependencies: ["EventRecords", "Domain", "JSON", "LineProtocol"]),
        .target(name: "TestSupport", dependencies: ["PostgresClient", "Migrations", "LineClient", "Server", "Locking"], path: "Tests/TestSupport"),
    ],
    swiftLanguageModes: [.v6]
)
