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
//   PostgresClient -> CLibPQ                   # the one door to PostgreSQL
//   TLS -> CLibSSL
//   LineProtocol -> JSON                       # pure
//   ConnectionCore -> LineProtocol, JSON       # pure
//   Domain -> JSON                             # pure (and swift-crypto)
//   EventLog -> PostgresClient, JSON
//   EventLog -> Domain                         # to remove (the project means to take this arrow away)
//   Migrations -> PostgresClient
//   Metrics -> Domain, JSON
//   Metrics -> EventLog                        # to remove (the project means to take this arrow away)
//   Observability -> Sockets
//   Observability -> PostgresClient            # to remove (the project means to take this arrow away)
//   Trust -> Merkle, JSON, PostgresClient
//   Transparency -> Merkle                     # pure: C2SP signed notes, checkpoints, cosignatures, tlog-proof, tiles
//   Witness -> Transparency, Merkle, Sockets, TLS   # tlog-witness: the pure decision, its state file, its HTTP server
//   Vault -> EventLog, Domain, JSON, PostgresClient, Locking
//   LineClient -> TLS
//   Projections -> Metrics, Domain, EventLog, PostgresClient, JSON, Locking
//   Server -> ConnectionCore, LineProtocol, Domain, EventLog, PostgresClient, JSON, Trust, Vault, TLS, Observability, Sockets, Locking
//   consultd -> Server, Projections, Metrics, Trust, Vault, Migrations, Observability, PostgresClient, JSON, Locking, Version
//   consultctl -> Projections, Metrics, Trust, Merkle, Transparency, Witness, TLS, Vault, Migrations, EventLog, Domain, LineClient, LineProtocol, PostgresClient, JSON, Version
//   consult-bench -> Server, Projections, Metrics, Trust, Vault, Migrations, EventLog, Domain, LineClient, LineProtocol, PostgresClient, JSON, Locking
//   TestSupport -> Migrations, PostgresClient, LineClient, Locking
//   ConnectionCoreTests -> ConnectionCore, LineProtocol, Domain
//   DaemonTests -> TestSupport, Domain, EventLog, LineProtocol, Metrics, Projections, PostgresClient, JSON, Trust, Merkle, Vault, TLS, Version, Migrations
//   DomainTests -> Domain, EventLog, JSON, LineProtocol, PostgresClient
//   EventLogTests -> EventLog, PostgresClient, TestSupport
//   LineProtocolTests -> LineProtocol, JSON
//   MerkleTests -> Merkle
//   MetricsTests -> Metrics, Domain, EventLog, JSON, LineProtocol, PostgresClient
//   MigrationsTests -> Migrations, TestSupport, PostgresClient, Domain
//   ObservabilityTests -> Observability
//   PostgresClientTests -> PostgresClient, TestSupport
//   TLSConnectionTests -> TLS, TestSupport
//   TransparencyTests -> Transparency, Merkle
//   WitnessTests -> Witness, Transparency, Merkle, TestSupport
//   VaultTests -> Vault, Domain, JSON
// architecture:end
//
// (Prometheus's text format is written in Observability: swift-prometheus pulls in swift-metrics,
// whose target `Metrics` clashes with ours, and SwiftPM refuses two targets of one name in a package graph.)
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
            dependencies: ["PostgresClient", "Sockets"]),
        .target(name: "Sockets"),
        .target(name: "Locking"),
        .target(name: "PostgresClient", dependencies: ["CLibPQ"]),
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
        .target(name: "EventLog", dependencies: ["PostgresClient", "Domain", "JSON"]),
        .target(
            name: "Vault",
            dependencies: ["EventLog", "Domain", "JSON", "PostgresClient", "Locking", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Migrations", dependencies: ["PostgresClient"]),
        .target(name: "LineProtocol", dependencies: ["JSON"]),
        .target(name: "ConnectionCore", dependencies: ["LineProtocol", "JSON"]),
        .target(name: "LineClient", dependencies: ["TLS"]),
        .target(name: "Domain", dependencies: ["JSON", .product(name: "Crypto", package: "swift-crypto")]),
        .target(name: "Metrics", dependencies: ["Domain", "EventLog", "JSON"]),
        .target(
            name: "Projections",
            dependencies: ["Metrics", "Domain", "EventLog", "PostgresClient", "JSON", "Locking", .product(name: "Logging", package: "swift-log")]),
        .target(
            name: "Server",
            dependencies: [
                "LineProtocol", "ConnectionCore", "Domain", "EventLog", "PostgresClient", "JSON", "Trust", "Merkle", "Vault", "TLS",
                "Observability", "Sockets", "Locking",
                .product(name: "Logging", package: "swift-log"),
            ]),
        .executableTarget(
            name: "consultd",
            dependencies: [
                "PostgresClient", "Migrations", "Server", "Projections", "Metrics", "Trust", "JSON", "Vault", "Locking", "Observability", "Version",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "consultctl",
            dependencies: [
                "PostgresClient", "EventLog", "Migrations", "LineClient", "LineProtocol", "Domain", "Metrics", "Projections", "JSON",
                "Trust", "Merkle", "Vault", "Version", "Transparency", "Witness",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "consult-bench",
            dependencies: [
                "PostgresClient", "EventLog", "Migrations", "Domain", "Metrics", "Projections", "LineClient", "LineProtocol",
                "Server", "JSON", "Trust", "Vault", "Locking",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient", "TestSupport"]),
        .testTarget(name: "EventLogTests", dependencies: ["EventLog", "Migrations", "TestSupport"]),
        .testTarget(
            name: "MigrationsTests", dependencies: ["Migrations", "TestSupport", "PostgresClient", "Domain"],
            exclude: ["Fixtures"]),
        .testTarget(
            name: "DaemonTests",
            dependencies: ["TestSupport", "Domain", "EventLog", "LineProtocol", "Metrics", "Projections", "PostgresClient", "JSON", "Trust", "Merkle", "Vault",
                "TLS", "Version", "Observability", "Migrations", .product(name: "Crypto", package: "swift-crypto"),
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
        .testTarget(name: "MetricsTests", dependencies: ["Metrics", "Domain", "EventLog", "JSON", "PostgresClient"]),
        .testTarget(name: "DomainTests", dependencies: ["Domain", "EventLog", "JSON", "PostgresClient"]),
        .target(name: "TestSupport", dependencies: ["PostgresClient", "Migrations", "LineClient", "Server", "Locking"], path: "Tests/TestSupport"),
    ],
    swiftLanguageModes: [.v6]
)
