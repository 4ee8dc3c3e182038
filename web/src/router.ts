import { useEffect, useState } from "preact/hooks";

/** Where the page is: the overview, or one session (`#/session/<id>`). */
export type Route = { page: "overview" } | { page: "session"; id: string };

function parse(hash: string): Route {
  const match = /^#\/session\/(session_[0-9a-f-]+)$/.exec(hash);
  return match ? { page: "session", id: match[1] as string } : { page: "overview" };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parse(location.hash));
  useEffect(() => {
    const onChange = () => setRoute(parse(location.hash));
    addEventListener("hashchange", onChange);
    return () => removeEventListener("hashchange", onChange);
  }, []);
  return route;
}

export const sessionHref = (id: string) => `#/session/${id}`;
