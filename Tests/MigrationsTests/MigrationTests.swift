import Foundation
import Migrations
import PostgresClient
import TestSupport
import XCTest

final class MigrationTests: XCTestCase {
    func testRequiredVersionIsTheLastSchemaFile() throws {
        let migrator = try Migrator(directory: TestDatabase.schemaDirectory)
        XCTAssertEqual(migrator.migrations.last?.version, Schema.requiredVersion)
    }

    func testFolderRulesAreChecked() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try "SELECT 1;".write(to: folder.appendingPathComponent("001_a.sql"), atomically: true, encoding: .utf8)
        try "SELECT 1;".write(to: folder.appendingPathComponent("003_c.sql"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Migrator(directory: folder)) { error in
            XCTAssertEqual("\(error)", "schema files skip from 1 to 3")
        }
        try "SELECT 1;".write(to: folder.appendingPathComponent("two.sql"), atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try Migrator(directory: folder)) { error in
            XCTAssertEqual("\(error)", "schema file two.sql is not named NNN_description.sql")
        }
    }

    func testMigratingTwiceEndsInTheSameState() throws {
        let conninfo = try TestDatabase.fresh(migrated: false)
        let connection = try Connection(conninfo)
        let migrator = try Migrator(directory: TestDatabase.schemaDirectory)
        XCTAssertEqual(try Migrator.currentVersion(connection), 0)
        XCTAssertEqual(try migrator.migrate(connection).map(\.version), migrator.migrations.map(\.version))
        let once = try TestDatabase.catalogSnapshot(connection)
        XCTAssertEqual(try migrator.migrate(connection), [])
        XCTAssertEqual(try TestDatabase.catalogSnapshot(connection), once)
        XCTAssertEqual(try Migrator.currentVersion(connection), Schema.requiredVersion)
        XCTAssertTrue(once.contains("trigger events_no_update on consult.events"), "\(once)")
    }

    func testTwoProcessesMigratingAtOnceEndInTheSameState() throws {
        let reference = try Connection(try TestDatabase.fresh())
        let expected = try TestDatabase.catalogSnapshot(reference)

        let conninfo = try TestDatabase.fresh(migrated: false)
        let consultctl = try TestDatabase.executable("consultctl")
        let outcomes = Locked([(status: Int32, stdout: String, stderr: String)?](repeating: nil, count: 2))
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let result = try? TestDatabase.run(
                consultctl, ["migrate", "--database", conninfo, "--schema-dir", TestDatabase.schemaDirectory.path])
            outcomes.withLock { $0[index] = result }
        }
        let results = outcomes.current
        for result in results {
            XCTAssertEqual(result?.status, 0, result?.stderr ?? "did not run")
        }
        // Exactly one of them applied the migrations; the other found nothing to do.
        let outputs = results.compactMap { $0?.stdout }
        XCTAssertEqual(outputs.filter { $0.contains("applied 1 event_log") }.count, 1, "\(outputs)")
        XCTAssertEqual(outputs.filter { $0.contains("up to date") }.count, 1, "\(outputs)")
        XCTAssertEqual(try TestDatabase.catalogSnapshot(try Connection(conninfo)), expected)
    }

    func testAFailingMigrationLeavesNothingBehind() throws {
        let conninfo = try TestDatabase.fresh()
        let connection = try Connection(conninfo)
        let before = try TestDatabase.catalogSnapshot(connection)
        let loaded = try Migrator(directory: TestDatabase.schemaDirectory)
        var migrations = loaded.migrations
        let broken = Migration(
            version: migrations.count + 1, name: "broken",
            sql: "CREATE TABLE consult.half_done (x int); SELECT no_such_function();")
        migrations.append(broken)
        XCTAssertThrowsError(
            try Migrator(migrations: migrations, functions: loaded.functions, privileges: loaded.privileges).migrate(connection)
        ) { error in
            XCTAssertTrue("\(error)".contains("migration \(broken.version) (broken) failed"), "\(error)")
            XCTAssertTrue("\(error)".contains(SQLState.undefinedFunction), "\(error)")
        }
        XCTAssertEqual(try TestDatabase.catalogSnapshot(connection), before)
        XCTAssertEqual(try Migrator.currentVersion(connection), Schema.requiredVersion)
    }
}
