"""The shape of pg_catalog and information_schema: which relations exist, their columns, and
the built-in PostgreSQL types, as PostgreSQL 15 defines them (oids included).

The text below was taken from a PostgreSQL 15 server (``pg_class``, ``pg_attribute``,
``pg_type``); information_schema's domains are given as their base types. The rows of these
relations come from ``tidal.catalog.pg_catalog``.

>>> RELATIONS["pg_catalog.pg_namespace"].columns
(('oid', 'oid'), ('nspname', 'name'), ('nspowner', 'oid'), ('nspacl', '_aclitem'))
>>> TYPE_BY_OID[20].typname, format_type(1700, (10 << 16 | 2) + 4), format_type(1009, None)
('int8', 'numeric(10,2)', 'text[]')
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

# "schema.name oid relkind: column type, ..."; an indented line continues the one above.
_RELATIONS = """
pg_catalog.pg_namespace 2615 r: oid oid, nspname name, nspowner oid, nspacl _aclitem
pg_catalog.pg_class 1259 r: oid oid, relname name, relnamespace oid, reltype oid, reloftype oid,
    relowner oid, relam oid, relfilenode oid, reltablespace oid, relpages int4, reltuples
    float4, relallvisible int4, reltoastrelid oid, relhasindex bool, relisshared bool,
    relpersistence char, relkind char, relnatts int2, relchecks int2, relhasrules bool,
    relhastriggers bool, relhassubclass bool, relrowsecurity bool, relforcerowsecurity bool,
    relispopulated bool, relreplident char, relispartition bool, relrewrite oid, relfrozenxid
    xid, relminmxid xid, relacl _aclitem, reloptions _text, relpartbound pg_node_tree
pg_catalog.pg_attribute 1249 r: attrelid oid, attname name, atttypid oid, attstattarget int4,
    attlen int2, attnum int2, attndims int4, attcacheoff int4, atttypmod int4, attbyval bool,
    attalign char, attstorage char, attcompression char, attnotnull bool, atthasdef bool,
    atthasmissing bool, attidentity char, attgenerated char, attisdropped bool, attislocal bool,
    attinhcount int4, attcollation oid, attacl _aclitem, attoptions _text, attfdwoptions _text,
    attmissingval anyarray
pg_catalog.pg_type 1247 r: oid oid, typname name, typnamespace oid, typowner oid, typlen int2,
    typbyval bool, typtype char, typcategory char, typispreferred bool, typisdefined bool,
    typdelim char, typrelid oid, typsubscript regproc, typelem oid, typarray oid, typinput
    regproc, typoutput regproc, typreceive regproc, typsend regproc, typmodin regproc, typmodout
    regproc, typanalyze regproc, typalign char, typstorage char, typnotnull bool, typbasetype
    oid, typtypmod int4, typndims int4, typcollation oid, typdefaultbin pg_node_tree, typdefault
    text, typacl _aclitem
pg_catalog.pg_database 1262 r: oid oid, datname name, datdba oid, encoding int4, datlocprovider
    char, datistemplate bool, datallowconn bool, datconnlimit int4, datfrozenxid xid, datminmxid
    xid, dattablespace oid, datcollate text, datctype text, daticulocale text, datcollversion
    text, datacl _aclitem
pg_catalog.pg_proc 1255 r: oid oid, proname name, pronamespace oid, proowner oid, prolang oid,
    procost float4, prorows float4, provariadic oid, prosupport regproc, prokind char, prosecdef
    bool, proleakproof bool, proisstrict bool, proretset bool, provolatile char, proparallel
    char, pronargs int2, pronargdefaults int2, prorettype oid, proargtypes oidvector,
    proallargtypes _oid, proargmodes _char, proargnames _text, proargdefaults pg_node_tree,
    protrftypes _oid, prosrc text, probin text, prosqlbody pg_node_tree, proconfig _text, proacl
    _aclitem
pg_catalog.pg_description 2609 r: objoid oid, classoid oid, objsubid int4, description text
pg_catalog.pg_roles 12000 v: rolname name, rolsuper bool, rolinherit bool, rolcreaterole bool,
    rolcreatedb bool, rolcanlogin bool, rolreplication bool, rolconnlimit int4, rolpassword
    text, rolvaliduntil timestamptz, rolbypassrls bool, rolconfig _text, oid oid
pg_catalog.pg_user 12014 v: usename name, usesysid oid, usecreatedb bool, usesuper bool, userepl
    bool, usebypassrls bool, passwd text, valuntil timestamptz, useconfig _text
pg_catalog.pg_settings 12104 v: name text, setting text, unit text, category text, short_desc
    text, extra_desc text, context text, vartype text, source text, min_val text, max_val text,
    enumvals _text, boot_val text, reset_val text, sourcefile text, sourceline int4,
    pending_restart bool
pg_catalog.pg_am 2601 r: oid oid, amname name, amhandler regproc, amtype char
pg_catalog.pg_tablespace 1213 r: oid oid, spcname name, spcowner oid, spcacl _aclitem,
    spcoptions _text
pg_catalog.pg_language 2612 r: oid oid, lanname name, lanowner oid, lanispl bool, lanpltrusted
    bool, lanplcallfoid oid, laninline oid, lanvalidator oid, lanacl _aclitem
pg_catalog.pg_collation 3456 r: oid oid, collname name, collnamespace oid, collowner oid,
    collprovider char, collisdeterministic bool, collencoding int4, collcollate text, collctype
    text, colliculocale text, collversion text
pg_catalog.pg_views 12028 v: schemaname name, viewname name, viewowner name, definition text
pg_catalog.pg_matviews 12038 v: schemaname name, matviewname name, matviewowner name, tablespace
    name, hasindexes bool, ispopulated bool, definition text
pg_catalog.pg_tables 12033 v: schemaname name, tablename name, tableowner name, tablespace name,
    hasindexes bool, hasrules bool, hastriggers bool, rowsecurity bool
pg_catalog.pg_indexes 12043 v: schemaname name, tablename name, indexname name, tablespace name,
    indexdef text
pg_catalog.pg_index 2610 r: indexrelid oid, indrelid oid, indnatts int2, indnkeyatts int2,
    indisunique bool, indnullsnotdistinct bool, indisprimary bool, indisexclusion bool,
    indimmediate bool, indisclustered bool, indisvalid bool, indcheckxmin bool, indisready bool,
    indislive bool, indisreplident bool, indkey int2vector, indcollation oidvector, indclass
    oidvector, indoption int2vector, indexprs pg_node_tree, indpred pg_node_tree
pg_catalog.pg_constraint 2606 r: oid oid, conname name, connamespace oid, contype char,
    condeferrable bool, condeferred bool, convalidated bool, conrelid oid, contypid oid,
    conindid oid, conparentid oid, confrelid oid, confupdtype char, confdeltype char,
    confmatchtype char, conislocal bool, coninhcount int4, connoinherit bool, conkey _int2,
    confkey _int2, conpfeqop _oid, conppeqop _oid, conffeqop _oid, confdelsetcols _int2,
    conexclop _oid, conbin pg_node_tree
pg_catalog.pg_inherits 2611 r: inhrelid oid, inhparent oid, inhseqno int4, inhdetachpending bool
pg_catalog.pg_attrdef 2604 r: oid oid, adrelid oid, adnum int2, adbin pg_node_tree
pg_catalog.pg_trigger 2620 r: oid oid, tgrelid oid, tgparentid oid, tgname name, tgfoid oid,
    tgtype int2, tgenabled char, tgisinternal bool, tgconstrrelid oid, tgconstrindid oid,
    tgconstraint oid, tgdeferrable bool, tginitdeferred bool, tgnargs int2, tgattr int2vector,
    tgargs bytea, tgqual pg_node_tree, tgoldtable name, tgnewtable name
pg_catalog.pg_policy 3256 r: oid oid, polname name, polrelid oid, polcmd char, polpermissive
    bool, polroles _oid, polqual pg_node_tree, polwithcheck pg_node_tree
pg_catalog.pg_rewrite 2618 r: oid oid, rulename name, ev_class oid, ev_type char, ev_enabled
    char, is_instead bool, ev_qual pg_node_tree, ev_action pg_node_tree
pg_catalog.pg_extension 3079 r: oid oid, extname name, extowner oid, extnamespace oid,
    extrelocatable bool, extversion text, extconfig _oid, extcondition _text
pg_catalog.pg_foreign_table 3118 r: ftrelid oid, ftserver oid, ftoptions _text
pg_catalog.pg_foreign_server 1417 r: oid oid, srvname name, srvowner oid, srvfdw oid, srvtype
    text, srvversion text, srvacl _aclitem, srvoptions _text
pg_catalog.pg_foreign_data_wrapper 2328 r: oid oid, fdwname name, fdwowner oid, fdwhandler oid,
    fdwvalidator oid, fdwacl _aclitem, fdwoptions _text
pg_catalog.pg_partitioned_table 3350 r: partrelid oid, partstrat char, partnatts int2, partdefid
    oid, partattrs int2vector, partclass oidvector, partcollation oidvector, partexprs
    pg_node_tree
pg_catalog.pg_statistic_ext 3381 r: oid oid, stxrelid oid, stxname name, stxnamespace oid,
    stxowner oid, stxstattarget int4, stxkeys int2vector, stxkind _char, stxexprs pg_node_tree
pg_catalog.pg_publication 6104 r: oid oid, pubname name, pubowner oid, puballtables bool,
    pubinsert bool, pubupdate bool, pubdelete bool, pubtruncate bool, pubviaroot bool
pg_catalog.pg_publication_rel 6106 r: oid oid, prpubid oid, prrelid oid, prqual pg_node_tree,
    prattrs int2vector
pg_catalog.pg_publication_namespace 6237 r: oid oid, pnpubid oid, pnnspid oid
pg_catalog.pg_auth_members 1261 r: roleid oid, member oid, grantor oid, admin_option bool
pg_catalog.pg_shdescription 2396 r: objoid oid, classoid oid, description text
pg_catalog.pg_depend 2608 r: classid oid, objid oid, objsubid int4, refclassid oid, refobjid
    oid, refobjsubid int4, deptype char
pg_catalog.pg_enum 3501 r: oid oid, enumtypid oid, enumsortorder float4, enumlabel name
pg_catalog.pg_range 3541 r: rngtypid oid, rngsubtype oid, rngmultitypid oid, rngcollation oid,
    rngsubopc oid, rngcanonical regproc, rngsubdiff regproc
pg_catalog.pg_sequence 2224 r: seqrelid oid, seqtypid oid, seqstart int8, seqincrement int8,
    seqmax int8, seqmin int8, seqcache int8, seqcycle bool
pg_catalog.pg_sequences 12048 v: schemaname name, sequencename name, sequenceowner name,
    data_type regtype, start_value int8, min_value int8, max_value int8, increment_by int8,
    cycle bool, cache_size int8, last_value int8
pg_catalog.pg_event_trigger 3466 r: oid oid, evtname name, evtevent name, evtowner oid, evtfoid
    oid, evtenabled char, evttags _text
pg_catalog.pg_cast 2605 r: oid oid, castsource oid, casttarget oid, castfunc oid, castcontext
    char, castmethod char
pg_catalog.pg_stat_activity 12222 v: datid oid, datname name, pid int4, leader_pid int4,
    usesysid oid, usename name, application_name text, client_addr inet, client_hostname text,
    client_port int4, backend_start timestamptz, xact_start timestamptz, query_start
    timestamptz, state_change timestamptz, wait_event_type text, wait_event text, state text,
    backend_xid xid, backend_xmin xid, query_id int8, query text, backend_type text
information_schema.schemata 13382 v: catalog_name name, schema_name name, schema_owner name,
    default_character_set_catalog name, default_character_set_schema name,
    default_character_set_name name, sql_path varchar
information_schema.tables 13425 v: table_catalog name, table_schema name, table_name name,
    table_type varchar, self_referencing_column_name name, reference_generation varchar,
    user_defined_type_catalog name, user_defined_type_schema name, user_defined_type_name name,
    is_insertable_into varchar, is_typed varchar, commit_action varchar
information_schema.columns 13295 v: table_catalog name, table_schema name, table_name name,
    column_name name, ordinal_position int4, column_default varchar, is_nullable varchar,
    data_type varchar, character_maximum_length int4, character_octet_length int4,
    numeric_precision int4, numeric_precision_radix int4, numeric_scale int4, datetime_precision
    int4, interval_type varchar, interval_precision int4, character_set_catalog name,
    character_set_schema name, character_set_name name, collation_catalog name, collation_schema
    name, collation_name name, domain_catalog name, domain_schema name, domain_name name,
    udt_catalog name, udt_schema name, udt_name name, scope_catalog name, scope_schema name,
    scope_name name, maximum_cardinality int4, dtd_identifier name, is_self_referencing varchar,
    is_identity varchar, identity_generation varchar, identity_start varchar, identity_increment
    varchar, identity_maximum varchar, identity_minimum varchar, identity_cycle varchar,
    is_generated varchar, generation_expression varchar, is_updatable varchar
information_schema.views 13483 v: table_catalog name, table_schema name, table_name name,
    view_definition varchar, check_option varchar, is_updatable varchar, is_insertable_into
    varchar, is_trigger_updatable varchar, is_trigger_deletable varchar,
    is_trigger_insertable_into varchar
information_schema.table_constraints 13411 v: constraint_catalog name, constraint_schema name,
    constraint_name name, table_catalog name, table_schema name, table_name name,
    constraint_type varchar, is_deferrable varchar, initially_deferred varchar, enforced
    varchar, nulls_distinct varchar
information_schema.key_column_usage 13329 v: constraint_catalog name, constraint_schema name,
    constraint_name name, table_catalog name, table_schema name, table_name name, column_name
    name, ordinal_position int4, position_in_unique_constraint int4
information_schema.referential_constraints 13339 v: constraint_catalog name, constraint_schema
    name, constraint_name name, unique_constraint_catalog name, unique_constraint_schema name,
    unique_constraint_name name, match_option varchar, update_rule varchar, delete_rule varchar
information_schema.routines 13377 v: specific_catalog name, specific_schema name, specific_name
    name, routine_catalog name, routine_schema name, routine_name name, routine_type varchar,
    module_catalog name, module_schema name, module_name name, udt_catalog name, udt_schema
    name, udt_name name, data_type varchar, character_maximum_length int4,
    character_octet_length int4, character_set_catalog name, character_set_schema name,
    character_set_name name, collation_catalog name, collation_schema name, collation_name name,
    numeric_precision int4, numeric_precision_radix int4, numeric_scale int4, datetime_precision
    int4, interval_type varchar, interval_precision int4, type_udt_catalog name, type_udt_schema
    name, type_udt_name name, scope_catalog name, scope_schema name, scope_name name,
    maximum_cardinality int4, dtd_identifier name, routine_body varchar, routine_definition
    varchar, external_name varchar, external_language varchar, parameter_style varchar,
    is_deterministic varchar, sql_data_access varchar, is_null_call varchar, sql_path varchar,
    schema_level_routine varchar, max_dynamic_result_sets int4, is_user_defined_cast varchar,
    is_implicitly_invocable varchar, security_type varchar, to_sql_specific_catalog name,
    to_sql_specific_schema name, to_sql_specific_name name, as_locator varchar, created
    timestamptz, last_altered timestamptz, new_savepoint_level varchar, is_udt_dependent
    varchar, result_cast_from_data_type varchar, result_cast_as_locator varchar,
    result_cast_char_max_length int4, result_cast_char_octet_length int4,
    result_cast_char_set_catalog name, result_cast_char_set_schema name,
    result_cast_char_set_name name, result_cast_collation_catalog name,
    result_cast_collation_schema name, result_cast_collation_name name,
    result_cast_numeric_precision int4, result_cast_numeric_precision_radix int4,
    result_cast_numeric_scale int4, result_cast_datetime_precision int4,
    result_cast_interval_type varchar, result_cast_interval_precision int4,
    result_cast_type_udt_catalog name, result_cast_type_udt_schema name,
    result_cast_type_udt_name name, result_cast_scope_catalog name, result_cast_scope_schema
    name, result_cast_scope_name name, result_cast_maximum_cardinality int4,
    result_cast_dtd_identifier name
"""

# oid typname typlen typbyval typtype typcategory typispreferred typelem typarray typinput
# typoutput typreceive typsend typalign typstorage typcollation
_TYPES = """
16 bool 1 t b B t 0 1000 boolin boolout boolrecv boolsend c p 0
17 bytea -1 f b U f 0 1001 byteain byteaout bytearecv byteasend i x 0
18 char 1 t b Z f 0 1002 charin charout charrecv charsend c p 0
19 name 64 f b S f 18 1003 namein nameout namerecv namesend c p 950
20 int8 8 t b N f 0 1016 int8in int8out int8recv int8send d p 0
21 int2 2 t b N f 0 1005 int2in int2out int2recv int2send s p 0
22 int2vector -1 f b A f 21 1006 int2vectorin int2vectorout int2vectorrecv int2vectorsend i p 0
23 int4 4 t b N f 0 1007 int4in int4out int4recv int4send i p 0
24 regproc 4 t b N f 0 1008 regprocin regprocout regprocrecv regprocsend i p 0
25 text -1 f b S t 0 1009 textin textout textrecv textsend i x 100
26 oid 4 t b N t 0 1028 oidin oidout oidrecv oidsend i p 0
27 tid 6 f b U f 0 1010 tidin tidout tidrecv tidsend s p 0
28 xid 4 t b U f 0 1011 xidin xidout xidrecv xidsend i p 0
29 cid 4 t b U f 0 1012 cidin cidout cidrecv cidsend i p 0
30 oidvector -1 f b A f 26 1013 oidvectorin oidvectorout oidvectorrecv oidvectorsend i p 0
114 json -1 f b U f 0 199 json_in json_out json_recv json_send i x 0
142 xml -1 f b U f 0 143 xml_in xml_out xml_recv xml_send i x 0
194 pg_node_tree -1 f b Z f 0 0 pg_node_tree_in pg_node_tree_out pg_node_tree_recv pg_node_tree_send i x 100
199 _json -1 f b A f 114 0 array_in array_out array_recv array_send i x 0
700 float4 4 t b N f 0 1021 float4in float4out float4recv float4send i p 0
701 float8 8 t b N t 0 1022 float8in float8out float8recv float8send d p 0
705 unknown -2 f p X f 0 0 unknownin unknownout unknownrecv unknownsend c p 0
869 inet -1 f b I t 0 1041 inet_in inet_out inet_recv inet_send i m 0
1000 _bool -1 f b A f 16 0 array_in array_out array_recv array_send i x 0
1001 _bytea -1 f b A f 17 0 array_in array_out array_recv array_send i x 0
1002 _char -1 f b A f 18 0 array_in array_out array_recv array_send i x 0
1003 _name -1 f b A f 19 0 array_in array_out array_recv array_send i x 950
1005 _int2 -1 f b A f 21 0 array_in array_out array_recv array_send i x 0
1007 _int4 -1 f b A f 23 0 array_in array_out array_recv array_send i x 0
1009 _text -1 f b A f 25 0 array_in array_out array_recv array_send i x 100
1011 _xid -1 f b A f 28 0 array_in array_out array_recv array_send i x 0
1014 _bpchar -1 f b A f 1042 0 array_in array_out array_recv array_send i x 100
1015 _varchar -1 f b A f 1043 0 array_in array_out array_recv array_send i x 100
1016 _int8 -1 f b A f 20 0 array_in array_out array_recv array_send d x 0
1021 _float4 -1 f b A f 700 0 array_in array_out array_recv array_send i x 0
1022 _float8 -1 f b A f 701 0 array_in array_out array_recv array_send d x 0
1028 _oid -1 f b A f 26 0 array_in array_out array_recv array_send i x 0
1033 aclitem 12 f b U f 0 1034 aclitemin aclitemout - - i p 0
1034 _aclitem -1 f b A f 1033 0 array_in array_out array_recv array_send i x 0
1042 bpchar -1 f b S f 0 1014 bpcharin bpcharout bpcharrecv bpcharsend i x 100
1043 varchar -1 f b S f 0 1015 varcharin varcharout varcharrecv varcharsend i x 100
1082 date 4 t b D f 0 1182 date_in date_out date_recv date_send i p 0
1083 time 8 t b D f 0 1183 time_in time_out time_recv time_send d p 0
1114 timestamp 8 t b D f 0 1115 timestamp_in timestamp_out timestamp_recv timestamp_send d p 0
1115 _timestamp -1 f b A f 1114 0 array_in array_out array_recv array_send d x 0
1182 _date -1 f b A f 1082 0 array_in array_out array_recv array_send i x 0
1183 _time -1 f b A f 1083 0 array_in array_out array_recv array_send d x 0
1184 timestamptz 8 t b D t 0 1185 timestamptz_in timestamptz_out timestamptz_recv timestamptz_send d p 0
1185 _timestamptz -1 f b A f 1184 0 array_in array_out array_recv array_send d x 0
1186 interval 16 f b T t 0 1187 interval_in interval_out interval_recv interval_send d p 0
1187 _interval -1 f b A f 1186 0 array_in array_out array_recv array_send d x 0
1231 _numeric -1 f b A f 1700 0 array_in array_out array_recv array_send i x 0
1700 numeric -1 f b N f 0 1231 numeric_in numeric_out numeric_recv numeric_send i m 0
2205 regclass 4 t b N f 0 2210 regclassin regclassout regclassrecv regclasssend i p 0
2206 regtype 4 t b N f 0 2211 regtypein regtypeout regtyperecv regtypesend i p 0
2210 _regclass -1 f b A f 2205 0 array_in array_out array_recv array_send i x 0
2211 _regtype -1 f b A f 2206 0 array_in array_out array_recv array_send i x 0
2249 record -1 f p P f 0 2287 record_in record_out record_recv record_send d x 0
2277 anyarray -1 f p P f 0 0 anyarray_in anyarray_out anyarray_recv anyarray_send d x 0
2278 void 4 t p P f 0 0 void_in void_out void_recv void_send i p 0
2950 uuid 16 f b U f 0 2951 uuid_in uuid_out uuid_recv uuid_send c p 0
2951 _uuid -1 f b A f 2950 0 array_in array_out array_recv array_send i x 0
3220 pg_lsn 8 t b U f 0 3221 pg_lsn_in pg_lsn_out pg_lsn_recv pg_lsn_send d p 0
3802 jsonb -1 f b U f 0 3807 jsonb_in jsonb_out jsonb_recv jsonb_send i x 0
3807 _jsonb -1 f b A f 3802 0 array_in array_out array_recv array_send i x 0
4089 regnamespace 4 t b N f 0 4090 regnamespacein regnamespaceout regnamespacerecv regnamespacesend i p 0
4096 regrole 4 t b N f 0 4097 regrolein regroleout regrolerecv regrolesend i p 0
"""

# How format_type() spells a type, where that is not its typname.
_FORMAT_NAMES = {
    16: "boolean",
    18: '"char"',
    20: "bigint",
    21: "smallint",
    23: "integer",
    700: "real",
    701: "double precision",
    1042: "character",
    1043: "character varying",
    1083: "time without time zone",
    1114: "timestamp without time zone",
    1184: "timestamp with time zone",
}


@dataclass(frozen=True)
class CatalogRelation:
    """A relation of pg_catalog or information_schema: its oid, relkind and columns."""

    schema: str
    name: str
    oid: int
    relkind: str
    columns: tuple[tuple[str, str], ...]  # (column, PostgreSQL type name)

    @property
    def qualified(self) -> str:
        return f"{self.schema}.{self.name}"

    def arrow_schema(self) -> pa.Schema:
        return pa.schema([pa.field(name, arrow_type(typname)) for name, typname in self.columns])

    def empty(self) -> pa.Table:
        return self.arrow_schema().empty_table()


@dataclass(frozen=True)
class PgType:
    """A row of pg_type for a built-in type."""

    oid: int
    typname: str
    typlen: int
    typbyval: bool
    typtype: str
    typcategory: str
    typispreferred: bool
    typelem: int
    typarray: int
    typinput: str
    typoutput: str
    typreceive: str
    typsend: str
    typalign: str
    typstorage: str
    typcollation: int


def _relations(text: str) -> dict[str, CatalogRelation]:
    entries = text.replace("\n    ", " ").strip().splitlines()
    relations = {}
    for entry in entries:
        head, columns = entry.split(": ", 1)
        qualified, oid, relkind = head.split()
        schema, name = qualified.split(".")
        pairs = tuple(tuple(c.split()) for c in columns.split(", "))
        relations[qualified] = CatalogRelation(schema, name, int(oid), relkind, pairs)
    return relations


def _types(text: str) -> tuple[PgType, ...]:
    rows = []
    for line in text.strip().splitlines():
        f = line.split()
        numbers = int(f[0]), f[1], int(f[2]), f[3] == "t", f[4], f[5], f[6] == "t"
        rows.append(PgType(*numbers, int(f[7]), int(f[8]), *f[9:15], int(f[15])))
    return tuple(rows)


RELATIONS = _relations(_RELATIONS)
TYPES = _types(_TYPES)
TYPE_BY_OID = {t.oid: t for t in TYPES}
TYPE_BY_NAME = {t.typname: t for t in TYPES}

_ARROW = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "oid": pa.int64(),
    "xid": pa.int64(),
    "cid": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "bytea": pa.binary(),
    "timestamptz": pa.timestamp("us", tz="UTC"),
    "int2vector": pa.list_(pa.int16()),
    "oidvector": pa.list_(pa.int64()),
    "anyarray": pa.list_(pa.string()),
}


def arrow_type(typname: str) -> pa.DataType:
    """The Arrow type a catalog column of this PostgreSQL type is built with.

    OIDs are int64 (they are unsigned 32-bit); reg* types hold the name they print as.
    """
    if typname in _ARROW:
        return _ARROW[typname]
    if typname.startswith("_"):
        return pa.list_(arrow_type(typname[1:]))
    return pa.string()


def format_type(oid: int, typmod: int | None) -> str | None:
    """What PostgreSQL's ``format_type(oid, typmod)`` prints for a built-in type."""
    pg_type = TYPE_BY_OID.get(oid)
    if pg_type is None:
        return "???"
    if pg_type.typname.startswith("_"):
        return f"{format_type(pg_type.typelem, typmod)}[]"
    name = _FORMAT_NAMES.get(oid, pg_type.typname)
    if typmod is None or typmod < 0:
        return name
    if oid == 1700:
        return f"numeric({(typmod - 4) >> 16},{(typmod - 4) & 0xFFFF})"
    if oid in (1042, 1043):
        return f"{name}({typmod - 4})"
    if oid in (1083, 1114, 1184):
        return name.replace(" with", f"({typmod}) with", 1)
    return name
