// PHP injection beyond open tags and the exec family (those stay in code.ts): calls of PHP's
// built-in functions, graded by how unlike ordinary words their names are; function names built
// from pieces (`(sy.(st).em)(…)`, `'sys'.'tem'`, `[system][0](…)`); superglobals; variable
// variables (`${'a'}`, `$ {x}`); php.ini directives set through a value (`allow_url_include=1`);
// and uploads that name a server-side script or a PHP session file. Every check is a char loop or
// indexOf over the value, bounded windows after each marker, so the work stays linear. The tables
// are our own, grouped by what the functions do. Callers pass lowercased, comment-stripped text.
import { words } from "./lexicon.ts";

const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isLower = (c: number): boolean => c >= 97 && c <= 122;
const isIdent = (c: number): boolean => isLower(c) || isDigit(c) || c === 95 || (c >= 65 && c <= 90);
const isSpace = (c: number): boolean => c === 32 || (c >= 9 && c <= 13);

// Built-in functions whose names no prose or other language writes: any call is PHP.
// prettier-ignore
const PHP_FUNCTIONS = words(
  // code execution, callbacks, code loading
  "shell_exec popen proc_open pcntl_exec create_function call_user_func levenshtein soundex metaphone similar_text " +
  "call_user_func_array forward_static_call forward_static_call_array func_get_args register_shutdown_function " +
  "register_tick_function array_map array_filter array_walk array_walk_recursive array_reduce usort uasort uksort " +
  "iterator_apply ob_start preg_replace preg_replace_callback preg_match preg_match_all preg_split mb_ereg_replace " +
  "mb_eregi_replace spl_autoload_register set_error_handler set_exception_handler function_exists method_exists " +
  "class_exists is_callable get_defined_vars get_defined_functions get_defined_constants get_declared_classes " +
  "debug_zval_dump debug_backtrace debug_print_backtrace parse_str phpinfo phpversion php_uname " +
  "php_sapi_name getmypid getmyuid get_current_user zend_version " +
  // encoding and obfuscation helpers
  "base64_decode base64_encode str_rot13 gzinflate gzdeflate gzuncompress gzcompress gzdecode gzencode zlib_decode " +
  "zlib_encode bzdecompress convert_uudecode convert_uuencode hex2bin bin2hex dechex hexdec octdec decoct chr ord " +
  "strrev str_replace str_ireplace str_repeat str_pad str_split substr substr_replace strtr strtolower strtoupper " +
  "ucfirst lcfirst ucwords urldecode rawurldecode urlencode rawurlencode htmlspecialchars htmlspecialchars_decode " +
  "html_entity_decode htmlentities strip_tags addslashes stripslashes stripcslashes quotemeta nl2br wordwrap " +
  "sprintf vsprintf printf vprintf fprintf print_r var_dump var_export intval floatval boolval strval settype " +
  "gettype unserialize json_decode json_encode unpack implode explode strlen strpos stripos strrpos strstr stristr " +
  "strcmp strcasecmp strncmp substr_count str_word_count md5_file sha1_file hash_hmac " +
  "is_array is_string is_numeric is_int is_object in_array array_keys array_values array_merge array_search " +
  "array_slice array_splice array_diff array_flip array_pop array_push array_shift array_unshift " +
  // files, directories, sockets, processes
  "fopen fclose fread fwrite fputs fgets fgetc fgetcsv fputcsv fpassthru fscanf fseek ftruncate flock fflush " +
  "readfile file_get_contents file_put_contents file_exists fileowner filegroup fileperms " +
  "is_file is_dir is_link is_readable is_writable is_writeable is_executable is_uploaded_file " +
  "move_uploaded_file unlink rmdir mkdir chmod chown chgrp lchown lchgrp tempnam tmpfile scandir opendir readdir " +
  "closedir rewinddir getcwd chdir disk_free_space disk_total_space realpath pathinfo basename dirname " +
  "parse_ini_file parse_ini_string highlight_file highlight_string show_source php_strip_whitespace " +
  "fsockopen pfsockopen stream_socket_client stream_socket_server stream_get_contents stream_context_create " +
  "socket_create socket_connect curl_init curl_exec curl_setopt curl_multi_exec gethostbyname gethostbynamel " +
  "gethostbyaddr dns_get_record getenv putenv ini_get ini_set ini_alter ini_restore ini_get_all get_cfg_var " +
  "set_include_path get_include_path set_time_limit ignore_user_abort error_reporting error_log mb_send_mail " +
  "headers_sent setcookie setrawcookie session_start session_id session_decode session_encode " +
  "posix_getpwuid posix_getpwnam posix_getuid posix_geteuid posix_getgid posix_getegid posix_kill posix_setuid " +
  "posix_setgid posix_mkfifo posix_uname pcntl_fork pcntl_signal proc_nice proc_terminate proc_get_status " +
  "escapeshellarg escapeshellcmd simplexml_load_string simplexml_load_file libxml_disable_entity_loader " +
  "gzopen gzread gzfile gzgets gzwrite gzputs readgzfile bzopen bzread bzwrite iptcembed ftp_connect ftp_login " +
  "ftp_get ftp_put ftp_exec mysql_query mysqli_query pg_query imap_open ldap_connect mb_parse_str xmlrpc_decode " +
  "wddx_deserialize stream_wrapper_register stream_get_meta_data apache_setenv apache_child_terminate " +
  "get_object_vars get_class_methods spl_autoload",
);

// PHP functions named by plain words, which prose also puts before a parenthesis: a call counts at
// PL1 only with a code-shaped argument (`file();`, `touch($f)`, `print('x')`), at PL3 with any.
// Harmless maths and array helpers (`round`, `max`, `sort`) are left out: spreadsheet formulas
// (`ROUND($A1, 2)`) and SQL (`MAX(id)`) write them, and calling them gains an attacker nothing.
// prettier-ignore
const PHP_WORD_FUNCTIONS = words(
  "file print echo range date time touch link symlink readlink chroot crypt pi serialize checkdate copy rename " +
  "glob pack stat umask flush sleep usleep die exit trim join split define constant unset isset empty system " +
  "exec eval assert compact extract header mail hash dir dl md5 sha1 crc32",
);

// Prefixes of PHP extensions' function families (`pg_…`, `ldap_…`, `sodium_…`): an unknown
// member called still reads as PHP; at PL2, since other languages' snake_case calls look alike.
// prettier-ignore
const PHP_PREFIXES = [
  "array_", "str_", "date_", "pg_", "mysql_", "mysqli_", "odbc_", "ldap_", "sodium_", "tidy_", "zend_",
  "openssl_", "curl_", "mb_", "iconv_", "preg_", "posix_", "pcntl_", "stream_", "socket_", "ftp_", "imap_",
  "xml_", "xmlwriter_", "libxml_", "simplexml_", "zip_", "zlib_", "ob_", "session_", "image_",
  "exif_", "finfo_", "gmp_", "bc", "ctype_", "filter_", "hash_", "password_", "apcu_", "opcache_", "spl_",
  "iterator_", "func_", "call_", "debug_", "ini_", "php_", "proc_", "shm_", "sem_", "msg_", "dba_", "oci_",
  "sqlite_", "sqlsrv_", "grapheme_", "idn_", "numfmt_", "collator_", "transliterator_", "json_", "var_",
  "snmp_", "ssh2_", "yaml_", "igbinary_", "msgpack_", "readline_", "intl_", "cal_", "easter_", "highlight_",
  "trigger_", "mt_", "random_", "fastcgi_", "litespeed_", "apache_", "mhash_", "mcrypt_",
];

// Function names an injection builds from pieces to dodge the plain-name checks.
const DANGEROUS_NAMES = [
  "system",
  "exec",
  "shell_exec",
  "passthru",
  "popen",
  "proc_open",
  "pcntl_exec",
  "eval",
  "assert",
  "create_function",
  "call_user_func",
  "phpinfo",
  "base64_decode",
  "file_put_contents",
];

export type PhpCall = "function" | "word-code" | "word" | "prefix" | null;

/** What a call of `name` at `p` (the `(`) looks like: a known function, a word with code-shaped arguments, … */
function callKind(c: string, nameStart: number, p: number): PhpCall {
  const name = c.slice(nameStart, p);
  if (PHP_FUNCTIONS.has(name)) return "function";
  if (PHP_WORD_FUNCTIONS.has(name)) {
    const a = c.charCodeAt(p + 1);
    // `touch($f)`, `print('x')`, `file(@x)`; `file();` or `file()` ending the value. Prose
    // mentions a function as `assert()` mid-sentence, so empty parentheses alone do not count.
    if (a === 36 || a === 39 || a === 34 || a === 64) return "word-code";
    if (a === 41 && (p + 2 >= c.length || c.charCodeAt(p + 2) === 59)) return "word-code";
    // any other argument list, closed (`crypt(abc)`); a lone `exec(` is a fragment
    const close = c.indexOf(")", p + 1);
    return close > 0 && close < p + 64 ? "word" : null;
  }
  if (name.includes("_") && PHP_PREFIXES.some((x) => name.length > x.length + 1 && name.startsWith(x))) {
    // `pg_enter_pipeline_mode(`, `ldap_get_entries()`, `tidy_parse($x)`: no argument, or a code-shaped one
    const a = c.charCodeAt(p + 1);
    if (p + 1 >= c.length || a === 41 || a === 36 || a === 39 || a === 34) return "prefix";
  }
  return null;
}

const RANK: Record<Exclude<PhpCall, null>, number> = { function: 3, "word-code": 3, prefix: 2, word: 1 };

/**
 * The strongest PHP function call in `c` (lowercased, whitespace and comments removed): a name
 * that starts a word (not a method, `.exec(`, nor part of a longer identifier) right before `(`.
 */
export function phpCall(c: string): PhpCall {
  let best: PhpCall = null;
  for (let p = c.indexOf("("); p >= 0; p = c.indexOf("(", p + 1)) {
    let k = p - 1;
    while (k >= 0 && p - k <= 48 && isIdent(c.charCodeAt(k))) k--;
    if (k === p - 1 || p - k > 48) continue;
    const before = k >= 0 ? c.charCodeAt(k) : -1;
    // `.exec(` and `->exec(` are methods; `$exec(` a variable (code.ts's rule); `::` a static call.
    if (before === 46 || before === 36 || before === 62 || before === 58) continue;
    if (isDigit(c.charCodeAt(k + 1))) continue;
    const kind = callKind(c, k + 1, p);
    if (kind !== null && (best === null || RANK[kind] > RANK[best])) {
      best = kind;
      if (RANK[kind] === 3) return best;
    }
  }
  return best;
}

/** Arguments an injected call passes: a string, a variable, `@id`, nothing, or one bare word (`ls`). */
function codeShapedArgs(c: string, i: number): boolean {
  const a = c.charCodeAt(i);
  if (a === 39 || a === 34 || a === 36 || a === 64 || a === 41 || a === 96) return true;
  let k = i;
  while (k < c.length && k < i + 32 && isIdent(c.charCodeAt(k))) k++;
  return k > i && c.charCodeAt(k) === 41;
}

/**
 * A dangerous function name assembled from pieces and then called: `(sy.(st).em)('id')`,
 * `(string)"sys"."tem"('id')`, `[system][0](ls)`, `(['system'])[0]('id')`. Walks back from each
 * `(` over quotes, brackets, dots and index digits, keeping the letters; the name must have been
 * split or wrapped (a plain `system(` is another rule's).
 */
export function builtCall(c: string): boolean {
  for (let p = c.indexOf("("); p >= 0; p = c.indexOf("(", p + 1)) {
    const prev = c.charCodeAt(p - 1);
    if (!(prev === 41 || prev === 93 || prev === 125 || prev === 34 || prev === 39)) continue;
    if (!codeShapedArgs(c, p + 1)) continue;
    let letters = "";
    let wrapped = false;
    const stop = Math.max(0, p - 64);
    for (let k = p - 1; k >= stop; k--) {
      const ch = c.charCodeAt(k);
      if (isLower(ch) || ch === 95) letters = c[k] + letters;
      else if (isDigit(ch) || ch === 46 || ch === 43) wrapped = true;
      else if (
        ch === 40 ||
        ch === 41 ||
        ch === 91 ||
        ch === 93 ||
        ch === 123 ||
        ch === 125 ||
        ch === 34 ||
        ch === 39
      )
        wrapped = true;
      else break;
    }
    if (!wrapped) continue;
    // `(string)"sys"."tem"`: a cast before the pieces
    const name = letters.startsWith("string") ? letters.slice(6) : letters;
    if (DANGEROUS_NAMES.includes(name) || DANGEROUS_NAMES.includes(letters)) return true;
  }
  return false;
}

/** `'sys'.'tem'`, `"ev" . "al"`, `'sh'+'ell_exec'`: quoted pieces joined into a dangerous name. */
export function joinedName(c: string): boolean {
  for (const q of ["'", '"']) {
    for (const op of [".", "+"]) {
      const joint = q + op + q;
      for (let i = c.indexOf(joint); i >= 0; i = c.indexOf(joint, i + 1)) {
        // Walk back to the chain's first quote, then join every piece forward.
        let start = i;
        const stop = Math.max(0, i - 96);
        while (start > stop && c.charCodeAt(start - 1) !== q.charCodeAt(0)) start--;
        while (start - 3 >= stop && c.startsWith(joint, start - 3)) {
          start -= 3;
          while (start > stop && c.charCodeAt(start - 1) !== q.charCodeAt(0)) start--;
        }
        let joined = "";
        let k = start;
        const end = Math.min(c.length, i + 96);
        for (; k < end; k++) {
          const ch = c.charCodeAt(k);
          if (ch === q.charCodeAt(0)) {
            if (!c.startsWith(joint, k)) break;
            k += 2;
          } else joined += c[k];
        }
        if (DANGEROUS_NAMES.includes(joined)) return true;
      }
    }
  }
  return false;
}

// prettier-ignore
const SUPERGLOBALS = [
  "$_server", "$_get", "$_post", "$_cookie", "$_request", "$_files", "$_env", "$_session", "$globals",
  "$http_raw_post_data", "$http_get_vars", "$http_post_vars", "$http_cookie_vars", "$http_server_vars",
  "$http_env_vars", "$http_session_vars", "$http_post_files",
];

/** `$_SERVER['x']`, `$GLOBALS`, `$_S ERVER` (whitespace gone in `c`): PHP's request superglobals. */
export function superglobal(c: string): boolean {
  if (c.indexOf("$") < 0) return false;
  for (const g of SUPERGLOBALS)
    for (let i = c.indexOf(g); i >= 0; i = c.indexOf(g, i + 1))
      if (!isIdent(c.charCodeAt(i + g.length))) return true;
  return false;
}

/**
 * Variable variables: `${'a'}`, `$ {$a}`, `$  { CONSTANT }`, `${_.__}` in `v` (lowercased, spaces
 * kept). `${name}` alone is a template placeholder in JS and shells: only with a space after `$`.
 */
export function variableVariable(v: string): boolean {
  for (let i = v.indexOf("$"); i >= 0; i = v.indexOf("$", i + 1)) {
    let k = i + 1;
    const spaced = isSpace(v.charCodeAt(k));
    while (k < v.length && k < i + 40 && isSpace(v.charCodeAt(k))) k++;
    if (v.charCodeAt(k) !== 123) continue;
    k++;
    while (k < v.length && k < i + 80 && isSpace(v.charCodeAt(k))) k++;
    const first = v.charCodeAt(k);
    if (first === 39 || first === 34 || first === 36 || first === 64) return true;
    if (spaced && (isLower(first) || first === 95)) {
      // `$ {a}`: an identifier, then the closing brace
      while (k < v.length && k < i + 120 && (isIdent(v.charCodeAt(k)) || isSpace(v.charCodeAt(k)))) k++;
      if (v.charCodeAt(k) === 125) return true;
    }
    // `${_.__}`: PHP's concatenation of constants
    if (first === 95 && v.charCodeAt(k + 1) === 46) return true;
  }
  return false;
}

// php.ini directives an attacker sets through an injected `ini_set` or a `.user.ini`/htaccess
// write: execution, includes, limits, error output, mail, sessions, extensions.
// prettier-ignore
const INI_DIRECTIVES = words(
  "engine extension extension_dir zend_extension precision serialize_precision smtp smtp_port sendmail_path " +
  "sendmail_from memory_limit max_execution_time max_input_time max_input_vars max_input_nesting_level " +
  "post_max_size upload_max_filesize upload_tmp_dir file_uploads max_file_uploads allow_url_fopen " +
  "allow_url_include auto_prepend_file auto_append_file open_basedir disable_functions disable_classes " +
  "display_errors display_startup_errors log_errors error_log error_reporting html_errors include_path doc_root " +
  "user_dir short_open_tag asp_tags safe_mode register_globals magic_quotes_gpc expose_php default_charset " +
  "output_buffering output_handler implicit_flush variables_order request_order default_socket_timeout " +
  "auto_detect_line_endings realpath_cache_size realpath_cache_ttl enable_dl unserialize_callback_func " +
  "unserialize_max_depth user_agent hard_timeout zend.assertions assert.active assert.exception " +
  "date.timezone cgi.fix_pathinfo user_ini.filename arg_separator.input arg_separator.output " +
  "error_prepend_string error_append_string docref_root docref_ext browscap xmlrpc_errors ignore_repeated_errors " +
  "track_errors sys_temp_dir register_argc_argv auto_globals_jit enable_post_data_reading input_encoding " +
  "output_encoding internal_encoding default_mimetype mail.log",
);
// Directive families by section prefix.
// prettier-ignore
const INI_PREFIXES = [
  "opcache.", "mbstring.", "session.", "zend.", "pcre.", "mysqli.", "mysqlnd.", "pdo_mysql.", "phar.", "assert.",
  "mail.", "xdebug.", "apc.", "apcu.", "soap.", "curl.", "openssl.", "filter.", "sqlite3.", "zlib.", "ffi.",
  "highlight.", "syslog.", "cli_server.", "fastcgi.", "odbc.", "pgsql.", "oci8.", "ldap.", "bcmath.", "gd.",
  "exif.", "iconv.", "intl.", "tidy.", "url_rewriter.", "mysql.", "sql.", "pdo.", "session_",
];

/** A whole value that sets a php.ini directive: `allow_url_include=1`, `memory_limit = 512M`. */
export function iniDirective(v: string): boolean {
  const eq = v.indexOf("=");
  if (eq <= 0 || eq > 64 || v.length > 300) return false;
  // The value holds no second `=` nor `&` (checked here before any copy is made).
  if (v.indexOf("=", eq + 1) >= 0 || v.indexOf("&", eq + 1) >= 0) return false;
  const name = v.slice(0, eq).trim();
  const value = v.slice(eq + 1).trim();
  if (value.length === 0 || value.includes("=") || value.includes("&")) return false;
  for (let i = 0; i < value.length; i++) if (isSpace(value.charCodeAt(i))) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (!(isIdent(c) || c === 46)) return false;
  }
  if (INI_DIRECTIVES.has(name)) return true;
  return INI_PREFIXES.some((p) => name.startsWith(p) && name.length > p.length + 2);
}

/** Extensions a server runs as code: PHP's family and Java Server Pages. */
function scriptExtension(ext: string): "php" | "jsp" | null {
  const e = ext.trim();
  if (e.startsWith("php")) {
    for (let i = 3; i < e.length; i++) if (!isDigit(e.charCodeAt(i)) && !"stp".includes(e[i]!)) return null;
    return e.length <= 6 ? "php" : null;
  }
  if (e === "phtml" || e === "pht" || e === "phar" || e === "pgif" || e === "shtml") return "php";
  if (e === "jsp" || e === "jspx" || e === "jspf" || e === "jsw" || e === "jsv") return "jsp";
  return null;
}

/** Whether a target carries an uploaded file's name: a multipart file part or an `X-Filename`-style header. */
export function isFileNameTarget(name: string): boolean {
  if (name.startsWith("FILES_NAMES:")) return true;
  if (!name.startsWith("REQUEST_HEADERS:")) return false;
  // The header name's letters, lowercased, end in `filename`: read them backwards, no copies.
  let want = FILENAME.length - 1;
  for (let i = name.length - 1; i >= 16; i--) {
    let ch = name.charCodeAt(i);
    if (ch >= 128) return headerLetters(name).endsWith(FILENAME); // `İ`, `K` lowercase to letters
    if (ch >= 65 && ch <= 90) ch += 32;
    if (!isLower(ch)) continue;
    if (ch !== FILENAME.charCodeAt(want)) return false;
    if (--want < 0) return true;
  }
  return false;
}

const FILENAME = "filename";

/** A header target's name, lowercased, letters only. */
function headerLetters(name: string): string {
  return name
    .slice(16)
    .toLowerCase()
    .replace(/[^a-z]/g, "");
}

/**
 * An upload's file name read as the server would store it: the last path segment, trailing dots
 * and spaces dropped (Windows drops them), spaces around dots ignored (`shell. php`).
 * `final`: the extension names a script; `inner`: a non-final one does (`shell.php.jpg`);
 * `session`: a PHP session file (`sess_<id>`), which an upload overwrites to plant serialised objects.
 */
export function uploadName(raw: string): "final" | "inner" | "session" | null {
  let s = raw.toLowerCase();
  s = s.slice(Math.max(s.lastIndexOf("/"), s.lastIndexOf("\\")) + 1);
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === 46 || isSpace(s.charCodeAt(end - 1)))) end--;
  s = s.slice(0, end);
  if (s.startsWith("sess_") && s.length >= 21 && /^[a-z0-9,-]+$/.test(s.slice(5))) return "session";
  const parts = s.split(".");
  if (parts.length < 2) return null;
  if (scriptExtension(parts[parts.length - 1]!) !== null) return "final";
  for (let i = 1; i < parts.length - 1; i++) if (scriptExtension(parts[i]!) !== null) return "inner";
  return null;
}
