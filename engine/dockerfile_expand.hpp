// Variable expansion and word splitting in Dockerfile arguments, as docker's builder does it
// for FROM, COPY, ADD, ENV, ARG, LABEL, EXPOSE, USER, WORKDIR, VOLUME, STOPSIGNAL (never for
// RUN, CMD or ENTRYPOINT: their shell expands those).
//
// $NAME, ${NAME}, ${NAME:-word}, ${NAME-word}, ${NAME:+word}, ${NAME+word}; single quotes keep
// text literal, double quotes group but still expand, the escape character (\ or `) takes the
// next character literally. An unset variable expands to nothing. The result of an expansion is
// never split into more words.
#pragma once
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kiln::engine {

using BuildVars = std::map<std::string, std::string>;

// One word (quotes removed, variables replaced). Throws kiln::Error "what: why" (an unclosed
// quote or ${, a bad modifier); `what` says where ("Dockerfile:3: COPY").
std::string expand_word(std::string_view text, const BuildVars& vars, char escape, const std::string& what);

// Splits on unquoted blanks, then expands each word.
std::vector<std::string> expand_words(std::string_view text, const BuildVars& vars, char escape,
                                      const std::string& what);

// ENV/LABEL/ARG arguments: `K=V K2="v 2"`, or the legacy `K V with spaces` (ENV and LABEL only
// when legacy_ok). An ARG may be a bare name (value "", has_value false).
struct KeyValue {
  std::string key, value;
  bool has_value = true;
};
std::vector<KeyValue> expand_key_values(std::string_view text, const BuildVars& vars, char escape,
                                        const std::string& what, bool legacy_ok, bool bare_keys_ok);

}  // namespace kiln::engine
