/* libhttp error and status texts: http_strerror, the status to answer per parse error, and reason phrases
 * (RFC 9110 15). Pure tables, no state. */
#include "internal.h"

const char *http_strerror(int err)
{
    switch (err) {
    case 0: return "success";
    case HTTP_INCOMPLETE: return "incomplete message: more bytes needed";
    case HTTP_E_METHOD: return "method is not a token";
    case HTTP_E_TARGET: return "malformed request-target";
    case HTTP_E_VERSION: return "HTTP version not supported (2.0 or higher)";
    case HTTP_E_LINE_ENDING: return "bare LF or CR in line ending";
    case HTTP_E_LINE_TOO_LONG: return "start line too long";
    case HTTP_E_FIELD_NAME: return "invalid field name";
    case HTTP_E_FIELD_VALUE: return "control character in field value";
    case HTTP_E_OBS_FOLD: return "obsolete line folding";
    case HTTP_E_TOO_MANY_FIELDS: return "too many header fields";
    case HTTP_E_HEAD_TOO_LARGE: return "header section too large";
    case HTTP_E_CONTENT_LENGTH: return "invalid or conflicting Content-Length";
    case HTTP_E_TE_UNSUPPORTED: return "unsupported transfer coding";
    case HTTP_E_TE_NOT_CHUNKED: return "Transfer-Encoding does not end in a single chunked";
    case HTTP_E_TE_HTTP10: return "Transfer-Encoding in an HTTP/1.0 message";
    case HTTP_E_TE_AND_CL: return "both Transfer-Encoding and Content-Length";
    case HTTP_E_HOST_MISSING: return "missing Host";
    case HTTP_E_HOST_DUP: return "more than one Host";
    case HTTP_E_HOST_INVALID: return "invalid Host authority";
    case HTTP_E_STATUS: return "malformed status line";
    case HTTP_E_CHUNK_SIZE: return "invalid chunk size";
    case HTTP_E_CHUNK_EXT: return "invalid or oversized chunk extension";
    case HTTP_E_CHUNK_DATA: return "chunk data not followed by CRLF";
    case HTTP_E_TRAILER: return "invalid or oversized trailer section";
    case HTTP_E_BODY_TOO_LARGE: return "body too large";
    case HTTP_E_VERSION_INVALID: return "malformed or unknown HTTP version";
    default: return "unknown error";
    }
}

int http_err_status(int err)
{
    switch (err) {
    case HTTP_E_VERSION: return 505;
    case HTTP_E_LINE_TOO_LONG: return 414;
    case HTTP_E_TOO_MANY_FIELDS:
    case HTTP_E_HEAD_TOO_LARGE: return 431;
    case HTTP_E_TE_UNSUPPORTED: return 501;
    case HTTP_E_BODY_TOO_LARGE: return 413;
    case HTTP_E_STATUS: return 502;
    default: return 400;
    }
}

const char *http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 407: return "Proxy Authentication Required";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
