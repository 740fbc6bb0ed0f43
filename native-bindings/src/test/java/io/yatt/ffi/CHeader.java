package io.yatt.ffi;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A small reader of C headers, enough for CUDA's and NCCL's: function declarations (first one wins),
 * typedefs, enum constants, struct bodies and numeric {@code #define}s. Declarations are read in file
 * order while {@code #define NAME OTHER} / {@code #undef} aliases are tracked, so
 * {@code #define cuDeviceTotalMem cuDeviceTotalMem_v2} maps a later declaration to the symbol that is
 * really exported; per-thread-stream remaps ({@code __CUDART_API_PTDS(x)}, {@code __CUDART_API_PTSZ(x)})
 * resolve to {@code x}, the default build's name. Conditional compilation is otherwise ignored.
 */
final class CHeader {
    /** A parameter or return kind, named like the FFM layouts: ADDRESS, JAVA_INT, JAVA_LONG, ..., STRUCT:size, VOID. */
    record Function(String name, String returnType, List<String> parameterTypes, String declaration) {
    }

    record StructBody(String tag, String body) {
    }

    private static final Pattern DEFINE = Pattern.compile("^#\\s*define\\s+([A-Za-z_]\\w*)(?![\\w(])\\s*(.*)$");
    private static final Pattern UNDEF = Pattern.compile("^#\\s*undef\\s+([A-Za-z_]\\w*)");
    private static final Pattern WRAPPED_NAME = Pattern.compile("^__CUDA(?:RT)?_API_PT(?:DS|SZ)\\(\\s*([A-Za-z_]\\w*)\\s*\\)$");
    private static final Pattern IDENTIFIER = Pattern.compile("^[A-Za-z_]\\w*$");
    private static final Pattern NOISE = Pattern.compile(
            "extern\\s+\"C\"\\s*\\{?|__attribute__\\s*\\(\\(.*?\\)\\)|\\b__dv\\s*\\([^)]*\\)|\\b__\\w+__\\b|\\b(?:CUDARTAPI|CUDAAPI|CUDART_CB|CUDA_CB"
                    + "|__CUDA_DEPRECATED|extern|static|inline|const|volatile|register)\\b");

    final Map<String, Function> functions = new LinkedHashMap<>();
    final Map<String, String> typedefs = new HashMap<>();
    final Map<String, Map<String, Long>> enums = new LinkedHashMap<>();
    final Map<String, Long> enumConstants = new HashMap<>();
    final Map<String, String> defines = new HashMap<>();
    final Map<String, StructBody> structs = new HashMap<>();
    private final Map<String, String> aliases = new HashMap<>();

    private CHeader() {
    }

    /** Parses several headers in order into one model (later files see earlier typedefs). */
    static CHeader parse(Path... files) throws IOException {
        CHeader header = new CHeader();
        for (Path file : files) {
            header.read(Files.readString(file));
        }
        return header;
    }

    private void read(String text) {
        String source = stripComments(text).replace("\\\r\n", " ").replace("\\\n", " ");
        StringBuilder statement = new StringBuilder();
        int depth = 0;
        for (String line : source.split("\n")) {
            String trimmed = line.strip();
            if (trimmed.startsWith("#")) {
                directive(trimmed);
                continue;
            }
            String code = NOISE.matcher(line).replaceAll(" ");
            for (int i = 0; i < code.length(); i++) {
                char c = code.charAt(i);
                if (c == '{') {
                    depth++;
                } else if (c == '}') {
                    if (depth == 0) {
                        continue; // closes an extern "C" block
                    }
                    depth--;
                } else if (c == ';' && depth == 0) {
                    statement(statement.toString().replaceAll("\\s+", " ").strip());
                    statement.setLength(0);
                    continue;
                }
                statement.append(c);
            }
            statement.append(' ');
        }
    }

    private void directive(String line) {
        Matcher undef = UNDEF.matcher(line);
        if (undef.find()) {
            aliases.remove(undef.group(1));
            return;
        }
        Matcher define = DEFINE.matcher(line);
        if (!define.find()) {
            return;
        }
        String name = define.group(1);
        String value = define.group(2).strip();
        defines.putIfAbsent(name, value);
        Matcher wrapped = WRAPPED_NAME.matcher(value);
        if (wrapped.find()) {
            aliases.put(name, wrapped.group(1));
        } else if (IDENTIFIER.matcher(value).matches() && !value.equals(name)) {
            aliases.put(name, value);
        }
    }

    private void statement(String s) {
        if (s.isEmpty()) {
            return;
        }
        if (s.startsWith("typedef ")) {
            typedef(s.substring("typedef ".length()).strip());
            return;
        }
        if (s.startsWith("enum ") && s.contains("{")) {
            String tag = s.substring(5, s.indexOf('{')).strip();
            enumBody(tag, s);
            return;
        }
        if (s.startsWith("struct ") && s.contains("{")) {
            String tag = s.substring(7, s.indexOf('{')).strip();
            structs.put("struct " + tag, new StructBody(tag, s.substring(s.indexOf('{') + 1, s.lastIndexOf('}'))));
            return;
        }
        function(s);
    }

    private void typedef(String s) {
        if (s.contains("{")) {
            String head = s.substring(0, s.indexOf('{')).strip();
            String body = s.substring(s.indexOf('{') + 1, s.lastIndexOf('}'));
            String name = s.substring(s.lastIndexOf('}') + 1).strip();
            if (head.startsWith("enum")) {
                enumBody(name, s);
                typedefs.put(name, "enum");
                String tag = head.substring(4).strip();
                if (!tag.isEmpty()) {
                    enums.put(tag, enums.get(name));
                }
            } else if (head.startsWith("struct") || head.startsWith("union")) {
                StructBody struct = new StructBody(name, body);
                structs.put(name, struct);
                String tag = head.replaceFirst("^(struct|union)", "").strip();
                if (!tag.isEmpty()) {
                    structs.put("struct " + tag, struct);
                }
                typedefs.put(name, "struct " + name);
            }
            return;
        }
        if (s.contains("(")) {
            Matcher pointerName = Pattern.compile("\\(\\s*\\*\\s*([A-Za-z_]\\w*)\\s*\\)").matcher(s);
            if (pointerName.find()) {
                typedefs.put(pointerName.group(1), "*");
            }
            return;
        }
        int split = Math.max(s.lastIndexOf(' '), s.lastIndexOf('*'));
        if (split < 0) {
            return;
        }
        String name = s.substring(split + 1).strip();
        String type = s.substring(0, split + 1).strip();
        typedefs.put(name, type);
    }

    private void enumBody(String name, String s) {
        String body = s.substring(s.indexOf('{') + 1, s.lastIndexOf('}'));
        Map<String, Long> constants = new LinkedHashMap<>();
        Long next = 0L;
        for (String entry : body.split(",")) {
            String item = entry.strip();
            if (item.isEmpty()) {
                continue;
            }
            String constant;
            Long value;
            int eq = item.indexOf('=');
            if (eq < 0) {
                constant = item;
                value = next;
            } else {
                constant = item.substring(0, eq).strip();
                value = evaluate(item.substring(eq + 1).strip(), constants);
            }
            if (!IDENTIFIER.matcher(constant).matches()) {
                continue;
            }
            if (value != null) {
                constants.put(constant, value);
                enumConstants.put(constant, value);
                next = value + 1;
            } else {
                next = null;
            }
        }
        enums.put(name, constants);
    }

    /** Evaluates an integer literal, a known constant, or a parenthesized/negated one; null otherwise. */
    Long evaluate(String expression, Map<String, Long> local) {
        String e = expression.strip();
        while (e.startsWith("(") && e.endsWith(")")) {
            e = e.substring(1, e.length() - 1).strip();
        }
        if (e.startsWith("-")) {
            Long inner = evaluate(e.substring(1), local);
            return inner == null ? null : -inner;
        }
        e = e.replaceAll("(?i)[ul]+$", "");
        try {
            if (e.startsWith("0x") || e.startsWith("0X")) {
                return Long.parseLong(e.substring(2), 16);
            }
            return Long.parseLong(e);
        } catch (NumberFormatException ignored) {
            // not a literal
        }
        if (local.containsKey(e)) {
            return local.get(e);
        }
        if (enumConstants.containsKey(e)) {
            return enumConstants.get(e);
        }
        if (defines.containsKey(e)) {
            return evaluate(defines.get(e), local);
        }
        return null;
    }

    /** A numeric {@code #define}. */
    Long define(String name) {
        String value = defines.get(name);
        return value == null ? null : evaluate(value, Map.of());
    }

    private void function(String s) {
        if (!s.endsWith(")")) {
            return;
        }
        int close = s.length() - 1;
        int depth = 0;
        int open = -1;
        for (int i = close; i >= 0; i--) {
            char c = s.charAt(i);
            if (c == ')') {
                depth++;
            } else if (c == '(') {
                depth--;
                if (depth == 0) {
                    open = i;
                    break;
                }
            }
        }
        if (open <= 0) {
            return;
        }
        String params = s.substring(open + 1, close).strip();
        if (params.contains("(")) {
            return; // function-pointer parameters: not something we bind
        }
        String head = s.substring(0, open).strip();
        Matcher nameMatcher = Pattern.compile("([A-Za-z_]\\w*)$").matcher(head);
        if (!nameMatcher.find()) {
            return;
        }
        String name = nameMatcher.group(1);
        String before = head.substring(0, nameMatcher.start()).strip();
        int junk = Math.max(Math.max(before.lastIndexOf('}'), before.lastIndexOf('{')), before.lastIndexOf(')'));
        String returnType = before.substring(junk + 1).strip();
        if (returnType.isEmpty() || returnType.equals("return") || returnType.contains("=")) {
            return;
        }
        String resolved = aliases.getOrDefault(name, name);
        List<String> types = new ArrayList<>();
        if (!params.isEmpty() && !params.equals("void")) {
            for (String param : params.split(",")) {
                types.add(stripParameterName(param.strip()));
            }
        }
        functions.putIfAbsent(resolved, new Function(resolved, returnType, types, s));
        functions.putIfAbsent(name, new Function(name, returnType, types, s));
    }

    /** {@code void **devPtr} -> {@code void **}; {@code unsigned int flags} -> {@code unsigned int}; {@code size_t} -> {@code size_t}. */
    private String stripParameterName(String param) {
        String p = param.replaceAll("\\[\\s*\\w*\\s*\\]", "*").strip();
        Matcher last = Pattern.compile("^(.*?[\\s*])([A-Za-z_]\\w*)$").matcher(p);
        if (last.find()) {
            String type = last.group(1).strip();
            String candidate = last.group(2);
            if (!type.isEmpty() && !isTypeWord(candidate) && !type.equals("struct") && !type.equals("enum")) {
                return type;
            }
        }
        return p;
    }

    private boolean isTypeWord(String word) {
        return switch (word) {
            case "int", "long", "short", "char", "float", "double", "void", "unsigned", "signed", "size_t" -> true;
            default -> false;
        };
    }

    /** The FFM kind of a C type: ADDRESS, JAVA_INT, JAVA_LONG, JAVA_FLOAT, JAVA_DOUBLE, JAVA_BYTE, JAVA_SHORT, VOID, STRUCT:size. */
    String kindOf(String cType) {
        String t = cType.replaceAll("\\s+", " ").strip();
        if (t.contains("*")) {
            return "ADDRESS";
        }
        return switch (t) {
            case "void" -> "VOID";
            case "int", "unsigned int", "unsigned", "signed int", "int32_t", "uint32_t" -> "JAVA_INT";
            case "size_t", "long", "unsigned long", "long long", "unsigned long long", "int64_t", "uint64_t", "ssize_t" -> "JAVA_LONG";
            case "short", "unsigned short" -> "JAVA_SHORT";
            case "char", "unsigned char", "signed char" -> "JAVA_BYTE";
            case "float" -> "JAVA_FLOAT";
            case "double" -> "JAVA_DOUBLE";
            default -> {
                if (t.startsWith("enum ")) {
                    yield "JAVA_INT";
                }
                if (t.startsWith("struct ")) {
                    yield structKind(t);
                }
                String target = typedefs.get(t);
                if (target == null) {
                    yield "UNKNOWN(" + t + ")";
                }
                if (target.equals("enum")) {
                    yield "JAVA_INT";
                }
                if (target.equals("struct " + t)) {
                    yield structKind(target);
                }
                yield kindOf(target);
            }
        };
    }

    private String structKind(String structName) {
        StructBody body = structs.get(structName);
        if (body == null) {
            body = structs.get(structName.substring("struct ".length()));
        }
        if (body == null) {
            return "STRUCT:?";
        }
        long size = 0;
        for (String field : body.body().split(";")) {
            String f = field.strip();
            if (f.isEmpty()) {
                continue;
            }
            Matcher array = Pattern.compile("^(?:unsigned |signed )?char\\s+\\w+\\s*\\[\\s*(\\w+)\\s*\\]$").matcher(f);
            if (!array.find()) {
                return "STRUCT:?";
            }
            Long n = evaluate(array.group(1), Map.of());
            if (n == null) {
                return "STRUCT:?";
            }
            size += n;
        }
        return "STRUCT:" + size;
    }

    /** Field (name, C type) pairs of a simple struct body, in order. */
    List<String[]> fields(String structName) {
        StructBody body = structs.get(structName);
        List<String[]> fields = new ArrayList<>();
        for (String field : body.body().split(";")) {
            String f = field.strip();
            if (f.isEmpty()) {
                continue;
            }
            Matcher m = Pattern.compile("^(.*?[\\s*])([A-Za-z_]\\w*)\\s*(\\[\\s*\\w+\\s*\\])?$").matcher(f);
            if (m.find()) {
                String array = m.group(3) == null ? "" : m.group(3).replace(" ", "");
                fields.add(new String[] {m.group(2), m.group(1).strip() + array});
            }
        }
        return fields;
    }

    private static String stripComments(String text) {
        StringBuilder out = new StringBuilder(text.length());
        int i = 0;
        boolean inString = false;
        while (i < text.length()) {
            char c = text.charAt(i);
            if (inString) {
                out.append(c);
                if (c == '\\' && i + 1 < text.length()) {
                    out.append(text.charAt(i + 1));
                    i += 2;
                    continue;
                }
                if (c == '"') {
                    inString = false;
                }
                i++;
                continue;
            }
            if (c == '"') {
                inString = true;
                out.append(c);
                i++;
            } else if (c == '/' && i + 1 < text.length() && text.charAt(i + 1) == '*') {
                int end = text.indexOf("*/", i + 2);
                String comment = end < 0 ? text.substring(i) : text.substring(i, end + 2);
                // keep line structure so directives stay on their own lines
                out.append(" ").append("\n".repeat((int) comment.chars().filter(ch -> ch == '\n').count()));
                i = end < 0 ? text.length() : end + 2;
            } else if (c == '/' && i + 1 < text.length() && text.charAt(i + 1) == '/') {
                int end = text.indexOf('\n', i);
                i = end < 0 ? text.length() : end;
            } else {
                out.append(c);
                i++;
            }
        }
        return out.toString();
    }
}
