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
//   Observability -> Sockets                   # runs no SQL: the daemon hands it what to measure
//   Trust -> Merkle, JSON, PostgresClient
//   Transparency -> Merkle                     # pure: C2SP signed notes, checkpoints, cosignatures, tlog-proof, tiles
//   Witness -> Transparency, Merkle, Sockets, TLS   # tlog-witness: the pure decision, its state file, its HTTP server
//   Vault -> EventLog, Domain, JSON, PostgresClient, Locking, EventRecords
//   LineClient -> TLS
//   Projections -> Participation, Domain, EventLog, PostgresClient, JSON, Locking
//   Server -> ConnectionCore, LineProtocol, Domain, EventLog, PostgresClient, JSON, Trust, Vault, TLS, Observability, Sockets, Locking, EventRecords
//   consultd -> Server, Projections, Participation, Trust, Vault, Migrations, Observability, PostgresClient, JSON, Locking, Version
//   consultctl -> Projections, Participation, Trust, Merkle, Transparency, Witness, TLS, Vault, Migrations, EventLog, Domain, LineClient, LineProtocol, PostgresClient, JSON, Version, EventRecords
//   consult-bench -> Server, Projections, Participation, Trust, Vault, Migrations, EventLog, Domain, LineClient, LineProtocol, PostgresClient, JSON, Locking, EventRecords
//   TestSupport -> Migrations, PostgresClient, LineClient, Locking
//   ConnectionCoreTests -> ConnectionCore, LineProtocol, Domain
//   DaemonTests -> TestSupport, Domain, EventLog, LineProtocol, Participation, Projections, PostgresClient, JSON, Trust, Merkle, Vault, TLS, Version, EventRecords
//   DomainTests -> Domain, EventLog, JSON, LineProtocol, PostgresClient, EventRecords
//   EventLogTests -> EventLog, PostgresClient, TestSupport, EventRecords, JSON
//   LineProtocolTests -> LineProtocol, JSON
//   MerkleTests -> Merkle
//   ParticipationTests -> Participation, Domain, EventLog, JSON, LineProtocol, PostgresClient, EventRecords
//   MigrationsTests -> Migrations, TestSupport, PostgresClient, Domain
//   ObservabilityTests -> Observability
//   PostgresClientTests -> PostgresClient, TestSupport, JSON
//   TLSConnectionTests -> TLS, TestSupport
//   TransparencyTests -> Transparency, Merkle
//   WitnessTests -> Witness, Transparency, Merkle, TestSupport
//   VaultTests -> Vault, Domain, JSON
// architecture:end
//
// Prometheus's text format is written by hand in Observability (tested with promtool). It was so
// because swift-metrics' target `Metrics` clashed with ours; the statistics module is Participation
// now, so moving the daemon's telemetry to swift-metrics and swift-prometheus is open.
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
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CLibSSL",
            pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]
        ),
        .target(name: "TLS", dependencies: ["CLibSSL"]),
        .target(name: "CVersion"),
        .target(name: "Version", dependencies: ["CVersion"]),
        .target(
            name: "Observability",
            dependencies: ["Sockets"]),
        .target(name: "Sockets"),
        .target(name: "Locking"),
        .target(name: "PostgresClient", dependencies: ["CLibPQ", "JSON"]),
        .target(name: "EventRecords", dependencies: ["JSON"]),
        .target(name: "JSON"),
        .target(name: "Merkle", dependencies: [.product(name: "Crypto", package: "swift-crypto")]),
        .target(
            name: "Trust",
            dependencies: [
                "Merkle", "JSON", "PostgresClient", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .target(name: "Transparency", dependencies: ["Merkle", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Witness", dependencies: ["Transparency", "Merkle", "Sockets", "TLS", "Locking", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "EventLog", dependencies: ["PostgresClient", "EventRecords", "JSON"]),
        .target(
            name: "Vault",
            dependencies: ["EventRecords", "EventLog", "Domain", "JSON", "PostgresClient", "Locking", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Migrations", dependencies: ["PostgresClient"]),
        .target(name: "LineProtocol", dependencies: ["JSON"]),
        .target(name: "ConnectionCore", dependencies: ["LineProtocol", "JSON", .product(name: "DequeModule", package: "swift-collections")]),
        .target(name: "LineClient", dependencies: ["TLS"]),
        .target(name: "Domain", dependencies: ["JSON", "EventRecords", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Participation", dependencies: ["Domain", "EventRecords", "JSON"]),
        .target(
            name: "Projections",
            dependencies: ["Participation", "Domain", "EventLog", "PostgresClient", "JSON", "Locking", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "Server",
            dependencies: ["EventRecords", 
                "LineProtocol", "ConnectionCore", "Domain", "EventLog", "PostgresClient", "JSON", "Trust", "Merkle", "Vault", "TLS",
                "Observability", "Sockets", "Locking",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "consultd",
            dependencies: [
                "PostgresClient", "Migrations", "Server", "Projections", "Participation", "Trust", "JSON", "Vault", "Locking", "Observability", "Version",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "consultctl",
            dependencies: ["EventRecords", 
                "PostgresClient", "EventLog", "Migrations", "LineClient", "LineProtocol", "Domain", "Participation", "Projections", "JSON",
                "Trust", "Merkle", "Vault", "Version", "Transparency", "Witness",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "consult-bench",
            dependencies: ["EventRecords", 
                "PostgresClient", "EventLog", "Migrations", "Domain", "Participation", "Projections", "LineClient", "LineProtocol",
                "Server", "JSON", "Trust", "Vault", "Locking",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .testTarget(name: "PostgresClientTests", dependencies: ["JSON", "PostgresClient", "TestSupport"]),
        .testTarget(name: "EventLogTests", dependencies: ["EventRecords", "JSON", "EventLog", "Migrations", "TestSupport"]),
        .testTarget(
            name: "MigrationsTests", dependencies: ["Migrations", "TestSupport", "PostgresClient", "Domain"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "DaemonTests",
            dependencies: ["EventRecords", "TestSupport", "Domain", "EventLog", "LineProtocol", "Participation", "Projections", "PostgresClient", "JSON", "Trust", "Merkle", "Vault",
                "TLS", "Version", "Observability", .product(name: "Crypto", package: "swift-crypto"),
            ]),
        .testTarget(name: "LineProtocolTests", dependencies: ["LineProtocol", "JSON"]),
        .testTarget(name: "MerkleTests", dependencies: ["Merkle"]),
        .testTarget(name: "TransparencyTests", dependencies: ["Transparency", "Merkle", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "WitnessTests", dependencies: ["Witness", "Transparency", "Merkle", "TestSupport"]),
        .testTarget(name: "ObservabilityTests", dependencies: ["Observability"]),
        .testTarget(
            name: "VaultTests", dependencies: ["Vault", "Domain", "EventLog", "JSON", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "TLSConnectionTests", dependencies: ["TLS", "TestSupport"]),
        .testTarget(name: "ConnectionCoreTests", dependencies: ["ConnectionCore", "LineProtocol", "JSON", "Domain"]),
        .testTarget(name: "ParticipationTests", dependencies: ["EventRecords", "Participation", "Domain", "EventLog", "JSON", "PostgresClient"]),
        .testTarget(name: "DomainTests", dependencies: ["EventRecords", "Domain", "EventLog", "JSON", "PostgresClient"]),
        .target(name: "TestSupport", dependencies: ["PostgresClient", "Migrations", "LineClient", "Server", "Locking"], path: "Tests/TestSupport"),
    ],
    swiftLanguageModes: [.v6]
)
