/**
 * The SQL functions the PostgreSQL backend's statements call, created by the
 * first schema migration (`schema.ts`). They give a document stored as JSONB
 * the meaning the nedb backend gives it (`@seald-io/nedb/lib/model.js`), so a
 * plugin sees the same results on either backend:
 *
 * - `neko_get(doc, path)` is nedb's `getDotValue`: a dot path into nested
 *   objects; through an array, a number picks an element and anything else
 *   gives the array of each element's value (a missing one is the marker
 *   `{"$undefined": true}`, JavaScript's `undefined` inside an array).
 *   SQL NULL is a missing value.
 * - `neko_part(value, condition, is_operators)` is nedb's `matchQueryPart`:
 *   on an array, an array condition must equal it as a whole, any other must
 *   hold for one element; `neko_ops` runs the field operators, `neko_eq` is
 *   `areThingsEqual`, `neko_cmp` the `$lt…$gte` of values of one type.
 * - `neko_modify(doc, steps)` is nedb's `modify` for the update operators,
 *   `neko_replace(doc, replacement)` for a replacement document; both keep
 *   `_id` and refuse to change it.
 * - `neko_rank`, `neko_num`, `neko_str`, `neko_bool` are the keys of a sort:
 *   missing, null, numbers, strings, booleans, Dates, arrays, objects.
 *
 * A Date is stored as `{"$date": <milliseconds>}` (document field names
 * never start with `$`, so nothing else has that shape).
 *
 * Refusals raise SQLSTATE `NK001` (an update nedb refuses: `$inc` on a
 * non-number, `$push` on a non-array, a changed `_id`, …), mapped to
 * `NEKO_ERR_STORAGE_QUERY`, and `NK002` (`incr` of a cell holding a
 * non-number), mapped to `NEKO_ERR_STORAGE_CELL` (see `errors.ts`).
 *
 * Where the backends differ (each outside the documented language):
 * - `$regex` runs PostgreSQL's regular expressions (`~`, `~*` for
 *   `$options: 'i'`), not JavaScript's. The common syntax (literals, `.`,
 *   `^`, `$`, classes, `*`, `+`, `?`, `{n,m}`, groups, `|`, `\d`, `\w`, `\s`)
 *   means the same, except that `.` also matches a line break, and
 *   `\b` is a backspace (PostgreSQL writes a word boundary `\y`). A pattern
 *   PostgreSQL cannot compile (a named group, a lookbehind before 9.6) is
 *   refused with `NEKO_ERR_STORAGE_QUERY`.
 * - Strings compare by code point (`COLLATE "C"`), JavaScript by UTF-16
 *   code unit: the two orders differ only between characters above U+FFFF
 *   and those from U+E000 to U+FFFF.
 * - A dot path finds no `length` (of a string or an array), and a string's
 *   characters are counted by code point.
 * - An update writing a field of a Date, or a named field of an array
 *   (`'list.x'`), is refused: nedb keeps such a write in memory only, and
 *   loses it when it reloads its file. Holes left in an array are nulls.
 * - An `_id` is a string or a finite number (the key column holds it);
 *   another one is refused, as is a document string holding U+0000 (which
 *   JSONB cannot hold).
 */

const UNDEFINED = `'{"$undefined": true}'::jsonb`;

/** The statements that create (or replace) every function. */
export const FUNCTIONS_SQL = String.raw`
-- A value JavaScript would see as undefined: missing (NULL) or the marker in an array of getDotValue.
CREATE OR REPLACE FUNCTION neko_undef(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$f$ SELECT v IS NULL OR v = ${UNDEFINED} $f$;

-- A Date, as stored: {"$date": <ms>}.
CREATE OR REPLACE FUNCTION neko_is_date(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$f$ SELECT coalesce(jsonb_typeof(v) = 'object' AND v ? '$date', false) $f$;

-- JavaScript's falsy values among stored ones: undefined, null, false, 0 and ''.
CREATE OR REPLACE FUNCTION neko_falsy(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$f$ SELECT neko_undef(v) OR v = 'null'::jsonb OR v = 'false'::jsonb OR v = '0'::jsonb OR v = '""'::jsonb $f$;

-- The array index a property name stands for ('0', '12'), or NULL.
CREATE OR REPLACE FUNCTION neko_index(key text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$f$ SELECT CASE WHEN key ~ '^(0|[1-9][0-9]{0,8})$' THEN key::integer END $f$;

-- obj[key] in JavaScript, for a stored value: a field of an object, an element of an array.
CREATE OR REPLACE FUNCTION neko_prop(obj jsonb, key text) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$f$ SELECT CASE jsonb_typeof(obj)
  WHEN 'object' THEN CASE WHEN neko_is_date(obj) THEN NULL ELSE obj -> key END
  WHEN 'array' THEN obj -> neko_index(key)
  WHEN 'string' THEN CASE WHEN neko_index(key) < char_length(obj #>> '{}')
    THEN to_jsonb(substr(obj #>> '{}', neko_index(key) + 1, 1)) END
  END $f$;

-- nedb's getDotValue.
CREATE OR REPLACE FUNCTION neko_get(obj jsonb, parts text[]) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$f$
DECLARE
  n integer := coalesce(cardinality(parts), 0);
  first jsonb;
  digits text;
  i numeric;
BEGIN
  IF neko_falsy(obj) THEN RETURN NULL; END IF;
  IF n = 0 THEN RETURN obj; END IF;
  IF n = 1 THEN RETURN neko_prop(obj, parts[1]); END IF;
  first := neko_prop(obj, parts[1]);
  IF jsonb_typeof(first) = 'array' THEN
    -- parseInt(parts[2], 10): leading blanks, a sign, digits.
    digits := substring(parts[2] FROM '^\s*([-+]?[0-9]+)');
    IF digits IS NOT NULL THEN
      i := digits::numeric;
      IF i < 0 OR i > 2147483646 THEN RETURN neko_get(NULL, parts[3:]); END IF;
      RETURN neko_get(first -> i::integer, parts[3:]);
    END IF;
    RETURN (
      SELECT coalesce(jsonb_agg(coalesce(neko_get(e, parts[2:]), ${UNDEFINED}) ORDER BY ord), '[]'::jsonb)
      FROM jsonb_array_elements(first) WITH ORDINALITY AS t(e, ord)
    );
  END IF;
  RETURN neko_get(first, parts[2:]);
END
$f$;

-- nedb's areThingsEqual (b comes from a query; the marker stands for undefined there too).
CREATE OR REPLACE FUNCTION neko_eq(a jsonb, b jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$f$ SELECT NOT neko_undef(a) AND NOT neko_undef(b) AND a = b $f$;

-- nedb's $lt, $lte, $gt, $gte: values of one type only (a null counts as 0 against a Date, as in JavaScript).
CREATE OR REPLACE FUNCTION neko_cmp(op text, a jsonb, b jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$f$
DECLARE
  c integer;
  x double precision;
  y double precision;
  s text;
  t text;
BEGIN
  IF neko_undef(a) THEN RETURN false; END IF;
  IF neko_is_date(b) THEN
    IF neko_is_date(a) THEN x := (a ->> '$date')::double precision;
    ELSIF jsonb_typeof(a) = 'null' THEN x := 0;
    ELSE RETURN false;
    END IF;
    y := (b ->> '$date')::double precision;
    c := CASE WHEN x < y THEN -1 WHEN x > y THEN 1 ELSE 0 END;
  ELSIF jsonb_typeof(b) = 'number' THEN
    IF jsonb_typeof(a) <> 'number' THEN RETURN false; END IF;
    x := (a #>> '{}')::double precision;
    y := (b #>> '{}')::double precision;
    c := CASE WHEN x < y THEN -1 WHEN x > y THEN 1 ELSE 0 END;
  ELSIF jsonb_typeof(b) = 'string' THEN
    IF jsonb_typeof(a) <> 'string' THEN RETURN false; END IF;
    s := a #>> '{}';
    t := b #>> '{}';
    c := CASE WHEN s COLLATE "C" < t COLLATE "C" THEN -1 WHEN s COLLATE "C" > t COLLATE "C" THEN 1 ELSE 0 END;
  ELSE
    RETURN false;
  END IF;
  RETURN CASE op WHEN '$lt' THEN c < 0 WHEN '$lte' THEN c <= 0 WHEN '$gt' THEN c > 0 ELSE c >= 0 END;
END
$f$;

-- Every field operator of a condition on one (non-array) value.
CREATE OR REPLACE FUNCTION neko_ops(v jsonb, ops jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$f$
DECLARE
  op text;
  operand jsonb;
  ok boolean;
BEGIN
  FOR op, operand IN SELECT key, value FROM jsonb_each(ops) LOOP
    ok := CASE op
      WHEN '$lt' THEN neko_cmp(op, v, operand)
      WHEN '$lte' THEN neko_cmp(op, v, operand)
      WHEN '$gt' THEN neko_cmp(op, v, operand)
      WHEN '$gte' THEN neko_cmp(op, v, operand)
      WHEN '$ne' THEN neko_undef(v) OR NOT neko_eq(v, operand)
      WHEN '$in' THEN EXISTS (SELECT 1 FROM jsonb_array_elements(operand) AS e WHERE neko_eq(v, e))
      WHEN '$nin' THEN NOT EXISTS (SELECT 1 FROM jsonb_array_elements(operand) AS e WHERE neko_eq(v, e))
      WHEN '$exists' THEN (NOT neko_undef(v)) = (operand = 'true'::jsonb)
      WHEN '$regex' THEN coalesce(jsonb_typeof(v) = 'string', false) AND CASE
        WHEN ops ->> '$options' = 'i' THEN (v #>> '{}') ~* (operand #>> '{}')
        ELSE (v #>> '{}') ~ (operand #>> '{}') END
      ELSE true -- $options, read with $regex
    END;
    IF NOT ok THEN RETURN false; END IF;
  END LOOP;
  RETURN true;
END
$f$;

-- nedb's matchQueryPart, for the value at the field's path.
CREATE OR REPLACE FUNCTION neko_part(v jsonb, cond jsonb, is_ops boolean) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$f$
BEGIN
  IF jsonb_typeof(v) = 'array' THEN
    IF NOT is_ops AND jsonb_typeof(cond) = 'array' THEN RETURN neko_eq(v, cond); END IF;
    RETURN EXISTS (
      SELECT 1 FROM jsonb_array_elements(v) AS e
      WHERE neko_part(CASE WHEN e = ${UNDEFINED} THEN NULL ELSE e END, cond, is_ops)
    );
  END IF;
  IF is_ops THEN RETURN neko_ops(v, cond); END IF;
  RETURN neko_eq(v, cond);
END
$f$;

-- nedb's match(element, value), as $pull uses it: an object value is a query of equalities on an object element.
CREATE OR REPLACE FUNCTION neko_pull_match(el jsonb, q jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$f$
DECLARE
  k text;
  qv jsonb;
BEGIN
  IF jsonb_typeof(el) <> 'object' OR neko_is_date(el) OR jsonb_typeof(q) <> 'object' OR neko_is_date(q) THEN
    RETURN neko_part(el, q, false);
  END IF;
  FOR k, qv IN SELECT key, value FROM jsonb_each(q) LOOP
    IF NOT neko_part(neko_get(el, ARRAY[k]), qv, false) THEN RETURN false; END IF;
  END LOOP;
  RETURN true;
END
$f$;

-- The class of a value in nedb's compareThings: missing, null, number, string, boolean, Date, array, object.
CREATE OR REPLACE FUNCTION neko_rank(v jsonb) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$f$ SELECT CASE
  WHEN neko_undef(v) THEN 0
  WHEN jsonb_typeof(v) = 'null' THEN 1
  WHEN jsonb_typeof(v) = 'number' THEN 2
  WHEN jsonb_typeof(v) = 'string' THEN 3
  WHEN jsonb_typeof(v) = 'boolean' THEN 4
  WHEN neko_is_date(v) THEN 5
  WHEN jsonb_typeof(v) = 'array' THEN 6
  ELSE 7 END $f$;

-- A number, or a Date's milliseconds, for sorting.
CREATE OR REPLACE FUNCTION neko_num(v jsonb) RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$f$ SELECT CASE
  WHEN jsonb_typeof(v) = 'number' THEN (v #>> '{}')::double precision
  WHEN neko_is_date(v) THEN (v ->> '$date')::double precision END $f$;

CREATE OR REPLACE FUNCTION neko_str(v jsonb) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$f$ SELECT CASE WHEN jsonb_typeof(v) = 'string' THEN (v #>> '{}') COLLATE "C" END $f$;

CREATE OR REPLACE FUNCTION neko_bool(v jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS
$f$ SELECT CASE WHEN jsonb_typeof(v) = 'boolean' THEN v = 'true'::jsonb END $f$;

-- compareThings(a, b) === 0, as $addToSet uses it (objects: their sorted keys' values pair by position).
CREATE OR REPLACE FUNCTION neko_same(a jsonb, b jsonb) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS
$f$
DECLARE
  ra integer := neko_rank(a);
  ak text[];
  bk text[];
BEGIN
  IF ra <> neko_rank(b) THEN RETURN false; END IF;
  IF ra < 6 THEN RETURN ra = 0 OR a = b; END IF;
  IF ra = 6 THEN
    RETURN jsonb_array_length(a) = jsonb_array_length(b) AND NOT EXISTS (
      SELECT 1 FROM generate_series(0, jsonb_array_length(a) - 1) AS i WHERE NOT neko_same(a -> i, b -> i)
    );
  END IF;
  SELECT coalesce(array_agg(key ORDER BY key COLLATE "C"), '{}') INTO ak FROM jsonb_object_keys(a) AS key;
  SELECT coalesce(array_agg(key ORDER BY key COLLATE "C"), '{}') INTO bk FROM jsonb_object_keys(b) AS key;
  RETURN cardinality(ak) = cardinality(bk) AND NOT EXISTS (
    SELECT 1 FROM generate_subscripts(ak, 1) AS i WHERE NOT neko_same(a -> ak[i], b -> bk[i])
  );
END
$f$;

CREATE OR REPLACE FUNCTION neko_refuse(message text) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS
$f$ BEGIN RAISE EXCEPTION USING ERRCODE = 'NK001', MESSAGE = message; END $f$;

-- A write to a field of a Date, or a named field of an array, which JSON cannot keep: refused.
CREATE OR REPLACE FUNCTION neko_unkept(op text, key text, obj jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE AS
$f$
BEGIN
  RETURN neko_refuse(format('%s cannot write the field %s of %s, which a stored document cannot keep',
    op, key, CASE WHEN neko_is_date(obj) THEN 'a Date' ELSE 'an array (only an element number)' END));
END
$f$;

-- arr[idx] = v, padding with nulls (the holes JavaScript leaves, as JSON stores them).
CREATE OR REPLACE FUNCTION neko_set_index(arr jsonb, idx integer, v jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS
$f$
DECLARE
  len integer := jsonb_array_length(arr);
BEGIN
  IF idx < len THEN RETURN jsonb_set(arr, ARRAY[idx::text], v); END IF;
  IF idx > len + 10000 THEN
    RETURN neko_refuse(format('writing element %s of an array of %s would leave too many holes', idx, len));
  END IF;
  RETURN arr || (SELECT coalesce(jsonb_agg('null'::jsonb), '[]'::jsonb) FROM generate_series(len + 1, idx)) || jsonb_build_array(v);
END
$f$;

-- One operator on the field key of obj (nedb's last step of a modifier). A field of a number,
-- string or boolean is not written, as in JavaScript; one of a Date, or a named field of an array,
-- is refused (nedb keeps it in memory only: its file, and a reload, lose it).
CREATE OR REPLACE FUNCTION neko_last(obj jsonb, op text, key text, val jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS
$f$
DECLARE
  kind text := jsonb_typeof(obj);
  idx integer := neko_index(key);
  has boolean;
  cur jsonb;
  out jsonb;
BEGIN
  IF kind IS NULL OR kind = 'null' THEN
    RETURN neko_refuse(format('cannot apply %s to the field %s of %s', op, key, coalesce(kind, 'undefined')));
  END IF;
  IF neko_is_date(obj) OR (kind = 'array' AND idx IS NULL) THEN
    IF op = '$unset' THEN RETURN obj; END IF; -- a stored document has no such field
    RETURN neko_unkept(op, key, obj);
  END IF;
  IF kind NOT IN ('object', 'array') THEN
    has := kind = 'string' AND neko_prop(obj, key) IS NOT NULL; -- a character of a string is its own property
    IF op IN ('$set', '$unset') THEN RETURN obj; END IF;
    IF op = '$inc' THEN
      IF has THEN RETURN neko_refuse('Don''t use the $inc modifier on non-number fields'); END IF;
      RETURN obj;
    END IF;
    IF op = '$pull' THEN RETURN neko_refuse('Can''t $pull an element from non-array values'); END IF;
    RETURN neko_refuse(format('Can''t %s an element on non-array values', op));
  END IF;
  IF kind = 'object' THEN
    has := obj ? key;
  ELSE
    has := idx < jsonb_array_length(obj);
  END IF;
  cur := CASE WHEN has THEN neko_prop(obj, key) END;
  CASE op
    WHEN '$set' THEN out := val;
    WHEN '$unset' THEN
      IF NOT has THEN RETURN obj; END IF;
      IF kind = 'object' THEN RETURN obj - key; END IF;
      out := 'null'::jsonb; -- delete arr[i] leaves a hole, which JSON stores as null
    WHEN '$inc' THEN
      IF NOT has THEN out := val;
      ELSIF jsonb_typeof(cur) <> 'number' THEN
        RETURN neko_refuse('Don''t use the $inc modifier on non-number fields');
      ELSE
        out := to_jsonb((cur #>> '{}')::double precision + (val #>> '{}')::double precision);
      END IF;
    WHEN '$push', '$addToSet' THEN
      IF NOT has THEN cur := '[]'::jsonb; END IF;
      IF jsonb_typeof(cur) <> 'array' THEN
        RETURN neko_refuse(format('Can''t %s an element on non-array values', op));
      END IF;
      IF op = '$addToSet' AND EXISTS (SELECT 1 FROM jsonb_array_elements(cur) AS e WHERE neko_same(e, val)) THEN
        out := cur;
      ELSE
        out := cur || jsonb_build_array(val);
      END IF;
    WHEN '$pull' THEN
      IF jsonb_typeof(cur) IS DISTINCT FROM 'array' THEN
        RETURN neko_refuse('Can''t $pull an element from non-array values');
      END IF;
      SELECT coalesce(jsonb_agg(e ORDER BY ord), '[]'::jsonb) INTO out
      FROM jsonb_array_elements(cur) WITH ORDINALITY AS t(e, ord) WHERE NOT neko_pull_match(e, val);
    ELSE
      RETURN neko_refuse(format('unknown update operator %s', op));
  END CASE;
  IF kind = 'object' THEN RETURN obj || jsonb_build_object(key, out); END IF;
  RETURN neko_set_index(obj, idx, out);
END
$f$;

-- nedb's modifier function: walks the path, creating objects (not for $unset), then the last step.
CREATE OR REPLACE FUNCTION neko_apply(obj jsonb, op text, parts text[], val jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS
$f$
DECLARE
  kind text := jsonb_typeof(obj);
  key text := parts[1];
  idx integer := neko_index(parts[1]);
  child jsonb;
BEGIN
  IF cardinality(parts) = 1 THEN RETURN neko_last(obj, op, key, val); END IF;
  IF kind IS NULL OR kind = 'null' THEN
    RETURN neko_refuse(format('cannot apply %s through the field %s of %s', op, key, coalesce(kind, 'undefined')));
  END IF;
  IF kind IN ('number', 'string', 'boolean') THEN
    -- obj[key] = {} is ignored on a primitive: the next step meets obj[key] (a string's character) or undefined.
    child := neko_prop(obj, key);
    IF child IS NULL THEN
      IF op = '$unset' THEN RETURN obj; END IF;
      RETURN neko_refuse(format('cannot apply %s through the field %s of a %s', op, key, kind));
    END IF;
    PERFORM neko_apply(child, op, parts[2:], val);
    RETURN obj;
  END IF;
  IF neko_is_date(obj) OR (kind = 'array' AND idx IS NULL) THEN
    IF op = '$unset' THEN RETURN obj; END IF; -- a stored document has no such field
    RETURN neko_unkept(op, key, obj);
  END IF;
  child := neko_prop(obj, key);
  IF child IS NULL THEN
    IF op = '$unset' THEN RETURN obj; END IF;
    child := '{}'::jsonb;
  END IF;
  child := neko_apply(child, op, parts[2:], val);
  IF kind = 'object' THEN RETURN obj || jsonb_build_object(key, child); END IF;
  RETURN neko_set_index(obj, idx, child);
END
$f$;

-- nedb's modify with operators: steps is [[operator, [path parts], value], ...] in the update's order.
CREATE OR REPLACE FUNCTION neko_modify(doc jsonb, steps jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS
$f$
DECLARE
  step jsonb;
  out jsonb := doc;
BEGIN
  FOR step IN SELECT value FROM jsonb_array_elements(steps) LOOP
    out := neko_apply(out, step ->> 0, ARRAY(SELECT jsonb_array_elements_text(step -> 1)), step -> 2);
  END LOOP;
  IF out -> '_id' IS DISTINCT FROM doc -> '_id' THEN
    RETURN neko_refuse('You can''t change a document''s _id');
  END IF;
  RETURN out;
END
$f$;

-- nedb's modify with a replacement document: it keeps the _id, which it may not change.
CREATE OR REPLACE FUNCTION neko_replace(doc jsonb, replacement jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS
$f$
BEGIN
  IF replacement ? '_id' AND replacement -> '_id' IS DISTINCT FROM doc -> '_id' THEN
    RETURN neko_refuse('You cannot change a document''s _id');
  END IF;
  IF doc ? '_id' THEN RETURN replacement || jsonb_build_object('_id', doc -> '_id'); END IF;
  RETURN replacement;
END
$f$;

-- incr of a cell: its number plus by; a cell holding anything else is refused.
CREATE OR REPLACE FUNCTION neko_cell_incr(cell text, value json, by double precision) RETURNS json
LANGUAGE plpgsql IMMUTABLE AS
$f$
BEGIN
  IF json_typeof(value) <> 'number' THEN
    RAISE EXCEPTION USING ERRCODE = 'NK002',
      MESSAGE = format('cell "%s" holds %s, not a number, so it cannot be incremented', cell, json_typeof(value));
  END IF;
  RETURN to_json((value::text)::double precision + by);
END
$f$;
`;
