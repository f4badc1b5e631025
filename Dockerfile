# A container of `feedpub serve` with the seeds as its corpus (not built or run by this
# repository's CI, which has no container engine: see README, "Install").
#   docker build -t feedpub .
#   docker run --rm -p 8080:8080 feedpub
#   docker run --rm -p 8080:8080 -v "$PWD/articles:/articles:ro" feedpub \
#     serve --articles /articles --out /var/lib/feedpub/site --addr 0.0.0.0:8080
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked

FROM debian:bookworm-slim
RUN useradd --system --home-dir /var/lib/feedpub --shell /usr/sbin/nologin feedpub \
    && mkdir -p /var/lib/feedpub \
    && chown feedpub:feedpub /var/lib/feedpub
COPY --from=build /src/target/release/feedpub /usr/local/bin/feedpub
COPY seeds /usr/share/feedpub/seeds
USER feedpub
WORKDIR /var/lib/feedpub
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/feedpub"]
CMD ["serve", "--articles", "/usr/share/feedpub/seeds", "--out", "/var/lib/feedpub/site", "--addr", "0.0.0.0:8080"]
