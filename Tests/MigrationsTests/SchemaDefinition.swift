import Foundation
import PostgresClient

/// Everything the schema defines, as text, to compare two databases: schemas, tables, views, columns,
/// indexes, constraints, functions (`pg_get_functiondef`, so the whole definition), triggers
/// (`pg_get_triggerdef`), views' queries (`pg_get_viewdef`), comments, every ACL and what the roles
/// consult_app, consult_analyst and PUBLIC may do on each function and relation.
enum SchemaDefinition {
    static let roles = ["consult_app", "consult_analyst", "public"]

    static func read(_ connection: Connection) throws -> [String] {
        let roleList = roles.map { "('\($0)')" }.joined(separator: ", ")
        return try connection.execute(
            """
            WITH roles(name) AS (VALUES \(roleList)),
            spaces AS (SELECT oid, nspname FROM pg_namespace WHERE nspname IN ('consult', 'analytics')),
            relations AS (SELECT c.* FROM pg_class c JOIN spaces s ON s.oid = c.relnamespace),
            functions AS (SELECT p.* FROM pg_proc p JOIN spaces s ON s.oid = p.pronamespace)
            SELECT entry FROM (
                SELECT 'schema ' || nspname || ' ' || coalesce(nspacl::text, '') || ' '
                       || coalesce(obj_description(oid, 'pg_namespace'), '') AS entry
                  FROM pg_namespace WHERE nspname IN ('consult', 'analytics')
                UNION ALL
                SELECT 'relation ' || c.oid::regclass::text || ' ' || c.relkind::text || ' ' || coalesce(c.relacl::text, '')
                       || ' ' || coalesce(obj_description(c.oid, 'pg_class'), '')
                  FROM relations c
                UNION ALL
                SELECT 'column ' || a.attrelid::regclass::text || '.' || a.attname || ' '
                       || format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                       || ' ' || coalesce(pg_get_expr(d.adbin, d.adrelid), '') || ' ' || coalesce(col_description(a.attrelid, a.attnum), '')
                  FROM pg_attribute a JOIN relations c ON c.oid = a.attrelid
                  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                 WHERE a.attnum > 0 AND NOT a.attisdropped
                UNION ALL
                SELECT 'index ' || pg_get_indexdef(i.indexrelid) FROM pg_index i JOIN relations c ON c.oid = i.indrelid
                UNION ALL
                SELECT 'constraint ' || k.conrelid::regclass::text || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
                  FROM pg_constraint k JOIN relations c ON c.oid = k.conrelid
                UNION ALL
                SELECT 'view ' || c.oid::regclass::text || ' ' || pg_get_viewdef(c.oid) FROM relations c WHERE c.relkind = 'v'
                UNION ALL
                SELECT 'function ' || p.oid::regprocedure::text || ' ' || coalesce(p.proacl::text, '') || ' '
                       || coalesce(obj_description(p.oid, 'pg_proc'), '') || E'\n' || pg_get_functiondef(p.oid)
                  FROM functions p
                UNION ALL
                SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t JOIN relations c ON c.oid = t.tgrelid
                 WHERE NOT t.tgisinternal
                UNION ALL
                SELECT 'may ' || r.name || ' execute ' || p.oid::regprocedure::text || ' '
                       || has_function_privilege(r.name, p.oid, 'EXECUTE')::text
                  FROM functions p CROSS JOIN roles r
                UNION ALL
                SELECT 'may ' || r.name || ' ' || lower(m.privilege) || ' ' || c.oid::regclass::text || ' '
                       || has_table_privilege(r.name, c.oid, m.privilege)::text
                  FROM relations c CROSS JOIN roles r
                 CROSS JOIN (VALUES ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE')) AS m(privilege)
                 WHERE c.relkind IN ('r', 'v')
                UNION ALL
                SELECT 'may ' || r.name || ' use schema ' || s.nspname || ' ' || has_schema_privilege(r.name, s.oid, 'USAGE')::text
                  FROM spaces s CROSS JOIN roles r
                UNION ALL
                SELECT 'migration ' || version || ' ' || name FROM consult.schema_migrations
            ) definition ORDER BY entry COLLATE "C"
            """
        ).rows.map { try $0.get("entry") }
    }

    /// The lines of `after` not in `before` and the reverse, for a failure message that says what differs.
    static func difference(_ before: [String], _ after: [String]) -> String {
        let only = { (a: [String], b: [String]) in a.filter { !Set(b).contains($0) } }
        return "only in the first:\n" + only(before, after).joined(separator: "\n---\n")
            + "\nonly in the second:\n" + only(after, before).joined(separator: "\n---\n")
    }

    /// `pg_get_functiondef` of every function in consult and analytics, by signature.
    static func functions(_ connection: Connection) throws -> [String: String] {
        var result: [String: String] = [:]
        for row in try connection.execute(
            """
            SELECT p.oid::regprocedure::text AS signature, pg_get_functiondef(p.oid) AS definition
              FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname IN ('consult', 'analytics')
            """
        ).rows {
            result[try row.get("signature")] = try row.get("definition")
        }
        return result
    }
}
