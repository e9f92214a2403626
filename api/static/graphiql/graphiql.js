// GraphiQL on /graphql, from the files beside this one: nothing is fetched from
// elsewhere, so it works on a network without internet access.
(function () {
  "use strict";

  const url = window.location.href.split("?")[0].split("#")[0];
  const socketUrl = url.replace(/^http/, "ws");

  // The query (as `q`: `query` would run it) and the variables travel in the address,
  // so that a link can share them; the headers (the token) never do.
  const parameters = new URLSearchParams(window.location.search);

  function remember(name, value) {
    if (value) parameters.set(name, value);
    else parameters.delete(name);
    const search = parameters.toString();
    history.replaceState(null, "", search ? `?${search}` : window.location.pathname);
  }

  const fetcher = GraphiQL.createFetcher({
    url,
    // Each subscription opens its socket with the headers pane's headers as the
    // connection_init payload: the Authorization header signs it in.
    subscriptionUrl: socketUrl,
  });
  const explorer = GraphiQLPluginExplorer.explorerPlugin();

  function KeylinkGraphiQL() {
    return React.createElement(GraphiQL, {
      fetcher,
      plugins: [explorer],
      defaultQuery: "{\n  viewer {\n    subject\n    organization { code name }\n  }\n}\n",
      query: parameters.get("q") || undefined,
      variables: parameters.get("variables") || undefined,
      onEditQuery: (value) => remember("q", value),
      onEditVariables: (value) => remember("variables", value),
      defaultEditorToolsVisibility: true,
      inputValueDeprecation: true,
      isHeadersEditorEnabled: true,
      shouldPersistHeaders: true,
    });
  }

  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(KeylinkGraphiQL),
  );
})();
