// The scope IDM scripts expect (openidm, identityServer, context, logger,
// console), built over one Python callable. Evaluated once per run, before
// the script; Python then takes __ea_install and __ea_run and deletes them.
//
// Every value crosses the bridge as JSON text, so a script only ever gets
// plain objects and arrays back, and `new Object()` params, arrays and nested
// objects reach Python as plain dicts and lists. Functions are named
// __ea_* so their frames can be dropped from stack traces shown to users.
//
// The script runs after this file, in the same realm, and may replace any
// global or prototype method (JSON, Array.prototype.push, ...). So what the
// bridge needs is captured here first, and values are turned into JSON by
// __ea_json below, which calls no method a script can replace except the
// value's own toJSON (as JSON.stringify does) and bounds the nesting depth:
// QuickJS's own JSON.stringify recurses in C without a stack check and
// crashes the process on a value nested some 50,000 deep.
(function __ea_prelude(global) {
  "use strict";
  var parse = JSON.parse;
  var quote = JSON.stringify; // only ever given a string primitive: no toJSON, no recursion
  var objectKeys = Object.keys;
  var isArray = Array.isArray;
  var apply = Reflect.apply;
  var defineProperty = Object.defineProperty;
  var ErrorCtor = Error;
  var TypeErrorCtor = TypeError;
  var RangeErrorCtor = RangeError;
  var NumberCtor = Number;
  var StringCtor = String;
  var BooleanCtor = Boolean;
  var isFiniteNumber = isFinite;
  // Deeper than any email's params; well inside the host's JSON parser
  // (Python's recursion limit) and QuickJS's default 1 MiB stack.
  var MAX_DEPTH = 256;
  var call = global.__ea_call;
  // The raw bridge is captured here and removed from the script's view.
  delete global.__ea_call;
  // Dropping the last reference to this Python callable, once the run has
  // started under its time limit, lets the script call Python (see javascript.py).
  var unguard = global.__ea_unguard;
  delete global.__ea_unguard;

  // JSON.stringify(value), but with a depth bound and no replaceable methods.
  // Returns undefined where JSON.stringify would (undefined, a function, a symbol).
  function __ea_json(value) {
    return __ea_json_value("", value, 0, null);
  }

  function __ea_json_value(key, value, depth, up) {
    if (value !== null && (typeof value === "object" || typeof value === "bigint")) {
      var toJSON = value.toJSON;
      if (typeof toJSON === "function") value = apply(toJSON, value, [key]);
    }
    if (value !== null && typeof value === "object") {
      if (value instanceof NumberCtor) value = NumberCtor(value);
      else if (value instanceof StringCtor) value = StringCtor(value);
      else if (value instanceof BooleanCtor) value = value.valueOf();
    }
    switch (typeof value) {
      case "string": return quote(value);
      case "number": return isFiniteNumber(value) ? "" + value : "null";
      case "boolean": return value ? "true" : "false";
      case "bigint": throw new TypeErrorCtor("a BigInt cannot be turned into JSON");
      case "object": break;
      default: return undefined; // undefined, function, symbol
    }
    if (value === null) return "null";
    if (depth >= MAX_DEPTH) throw new RangeErrorCtor("value is nested more than " + MAX_DEPTH + " levels deep");
    for (var p = up; p !== null; p = p.up) {
      if (p.value === value) throw new TypeErrorCtor("circular reference");
    }
    var here = { value: value, up: up };
    var out, i, item;
    if (isArray(value)) {
      out = "[";
      var length = value.length;
      for (i = 0; i < length; i++) {
        item = __ea_json_value("" + i, value[i], depth + 1, here);
        out += (i ? "," : "") + (item === undefined ? "null" : item);
      }
      return out + "]";
    }
    var names = objectKeys(value);
    var first = true;
    out = "{";
    for (i = 0; i < names.length; i++) {
      item = __ea_json_value(names[i], value[names[i]], depth + 1, here);
      if (item === undefined) continue;
      out += (first ? "" : ",") + quote(names[i]) + ":" + item;
      first = false;
    }
    return out + "}";
  }

  function __ea_error(err) {
    var e = new ErrorCtor(err.message);
    e.name = err.name;
    e.code = err.code;
    e.reason = err.reason;
    e.detail = err.detail;
    e.kind = err.detail ? err.detail.kind : undefined;
    // Lets the host give back the original error when the script lets it escape.
    defineProperty(e, "__ea_id", { value: err.id, enumerable: false });
    return e;
  }

  function __ea_invoke(op, args) {
    var reply = parse(call(op, __ea_json(args)));
    if (reply.error !== undefined) throw __ea_error(reply.error);
    return reply.value;
  }

  function __ea_text(value) {
    if (typeof value === "string") return value;
    if (value === undefined || typeof value === "function" || typeof value === "symbol") return String(value);
    if (value instanceof Error) return String(value);
    try {
      var json = __ea_json(value);
      return json === undefined ? String(value) : json;
    } catch (ignored) {
      try {
        return String(value); // cyclic, BigInt
      } catch (alsoIgnored) {
        return "[a value that cannot be shown]"; // nested too deeply even for String
      }
    }
  }

  function __ea_console(level) {
    return function __ea_console_write() {
      var parts = [];
      for (var i = 0; i < arguments.length; i++) parts.push(__ea_text(arguments[i]));
      __ea_invoke("log", [level, parts.join(" ")]);
    };
  }

  function __ea_logger(level) {
    // IDM's logger uses SLF4J placeholders: logger.info("sent to {}", address).
    return function __ea_logger_write(message) {
      var text = __ea_text(message);
      for (var i = 1; i < arguments.length; i++) {
        var at = text.indexOf("{}");
        if (at < 0) break;
        text = text.slice(0, at) + __ea_text(arguments[i]) + text.slice(at + 2);
      }
      __ea_invoke("log", [level, text]);
    };
  }

  function __ea_freeze(value) {
    if (value !== null && typeof value === "object") {
      Object.keys(value).forEach(function (key) { __ea_freeze(value[key]); });
      Object.freeze(value);
    }
    return value;
  }

  var state = { hasResult: false, result: undefined };

  function __ea_install(initJson) {
    var init = parse(initJson);
    var locations = init.locations;
    var verbs = {
      // IDM's signatures; every verb reaches the host, which answers 403/404 as IDM does.
      create: function __ea_create(resourceName, newResourceId, content, params, fields) {
        return __ea_invoke("request", ["create", resourceName, newResourceId, content, params, fields]);
      },
      read: function __ea_read(resourceName, params, fields) {
        return __ea_invoke("request", ["read", resourceName, params, fields]);
      },
      update: function __ea_update(resourceName, rev, content, params, fields) {
        return __ea_invoke("request", ["update", resourceName, rev, content, params, fields]);
      },
      patch: function __ea_patch(resourceName, rev, value, params, fields) {
        return __ea_invoke("request", ["patch", resourceName, rev, value, params, fields]);
      },
      delete: function __ea_delete(resourceName, rev, params, fields) {
        return __ea_invoke("request", ["delete", resourceName, rev, params, fields]);
      },
      query: function __ea_query(resourceName, params, fields) {
        return __ea_invoke("request", ["query", resourceName, params, fields]);
      },
      action: function __ea_action(resource, actionName, content, params, fields) {
        return __ea_invoke("action", [resource, actionName, content, params]);
      },
    };
    global.openidm = Object.freeze(verbs);
    global.identityServer = Object.freeze({
      getProperty: function __ea_getProperty(name, defaultValue, useCache) {
        return __ea_invoke("property", [name, defaultValue === undefined ? null : defaultValue]);
      },
      getProjectLocation: function __ea_project() { return locations.project; },
      getInstallLocation: function __ea_install_location() { return locations.install; },
      getWorkingLocation: function __ea_working() { return locations.working; },
    });
    global.context = __ea_freeze(init.context);
    global.console = Object.freeze({
      log: __ea_console("log"), info: __ea_console("info"), warn: __ea_console("warn"),
      error: __ea_console("error"), debug: __ea_console("debug"), trace: __ea_console("trace"),
    });
    global.logger = Object.freeze({
      trace: __ea_logger("trace"), debug: __ea_logger("debug"), info: __ea_logger("info"),
      warn: __ea_logger("warn"), error: __ea_logger("error"),
    });
    global.setResult = function __ea_setResult(value) {
      state.hasResult = true;
      state.result = value;
    };
    Object.keys(init.globals).forEach(function (name) { global[name] = init.globals[name]; });
    init.callables.forEach(function (name) {
      global[name] = function __ea_callable() {
        var args = [];
        for (var i = 0; i < arguments.length; i++) args[i] = arguments[i];
        return __ea_invoke("global", [name, args]);
      };
    });
  }

  function __ea_describe(e) {
    try {
      if (e !== null && typeof e === "object") {
        var message = e.message !== undefined ? String(e.message) : __ea_text(e);
        return {
          name: e.name !== undefined ? String(e.name) : undefined,
          message: message,
          code: typeof e.code === "number" ? e.code : undefined,
          stack: typeof e.stack === "string" ? e.stack : undefined,
          id: typeof e.__ea_id === "number" ? e.__ea_id : undefined,
        };
      }
      return { message: __ea_text(e) };
    } catch (ignored) {
      return { message: "an error that cannot be described" };
    }
  }

  function __ea_run(source) {
    var value;
    unguard = null;
    try {
      // Indirect eval runs the source as global code: `var` and function
      // declarations become globals and the completion value comes back,
      // exactly as when the file is evaluated on its own.
      value = (0, eval)(source);
      if (state.hasResult) value = state.result;
      var json = __ea_json(value === undefined ? null : value);
      return '{"value":' + (json === undefined ? "null" : json) + "}";
    } catch (e) {
      return __ea_json({ thrown: __ea_describe(e) });
    }
  }

  // Handed to Python by name, then removed from the script's view.
  global.__ea_install = __ea_install;
  global.__ea_run = __ea_run;
})(globalThis);
