#!/usr/bin/env bash
# The run command (`npm start`): installs and starts Azurite, the fake payment platforms and the app,
# wired together on 127.0.0.1, prints a walkthrough, and stops everything it started on Ctrl+C.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tools/local/azurite.sh

APP_PORT="${APP_PORT:-7071}"
FAKE_PORT="${FAKE_PORT:-7072}"
# Local-only credentials shared by the app and the fake; real ones come from Key Vault in Azure.
export LOCAL_PYUN_APP_ID="op-local-app"
export LOCAL_PYUN_SECRET="local-dev-secret-not-for-production"
export LOCAL_PYUN_MERCHANT="62626601"
export LOCAL_FUNCTION_KEY="local-dev-function-key-0123456789"
# WeChat Pay Score against the fake, with the repository's TEST keys (never use them anywhere else).
KEYS="PaymentFunctions.Tests/TestData/wechatpay"
export WeChatPay__Mode="Direct" WeChatPay__MchId="1900000001" WeChatPay__AppId="wxd678efh567hg6787" \
  WeChatPay__ServiceId="2002000000000558128851361561536" WeChatPay__MerchantCertificateSerial="TESTMCHCERTSERIAL0000000000000000000001" \
  WeChatPay__ApiV3Key="0123456789abcdefghijklmnopqrstuv" WeChatPay__NotifyUrl="http://127.0.0.1:$APP_PORT/api/notify/wechatpay" \
  WeChatPay__BaseUrl="http://127.0.0.1:$FAKE_PORT"
LOCAL_WECHAT_KEY_ID="PUB_KEY_ID_0000000000000000000000000000000001"
LOG_DIR=".local"
mkdir -p "$LOG_DIR"

pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  stop_azurite
  echo "Stopped everything this command started."
}
trap cleanup EXIT
trap 'exit 130' INT TERM

wait_http() { # url name pid
  for _ in $(seq 1 150); do
    if curl -fsS -o /dev/null "$1" 2>/dev/null; then return 0; fi
    if ! kill -0 "$3" 2>/dev/null; then echo "$2 exited; its log:" >&2; cat "$LOG_DIR/$2.log" >&2; return 1; fi
    sleep 0.2
  done
  echo "$2 did not answer at $1 within 30 s; see $LOG_DIR/$2.log" >&2
  return 1
}

ensure_node_modules
if azurite_up; then
  echo "Using the Azurite already running on 127.0.0.1:10000-10002."
else
  AZURITE_DIR="$LOG_DIR" start_azurite
fi

echo "Building the app and the fake payment platforms..."
dotnet build tools/PaymentFunctions.Fakes/PaymentFunctions.Fakes.csproj -c Release --nologo -v quiet >"$LOG_DIR/build.log" 2>&1 || { cat "$LOG_DIR/build.log"; exit 1; }

Pyun__AppId="$LOCAL_PYUN_APP_ID" Pyun__AppSecret="$LOCAL_PYUN_SECRET" Pyun__Merchant="$LOCAL_PYUN_MERCHANT" \
  FakeWeChatPay__MerchantPublicKey="$(cat "$KEYS/merchant_test_public.pem")" \
  FakeWeChatPay__SigningSerial="$LOCAL_WECHAT_KEY_ID" FakeWeChatPay__SigningPrivateKey="$(cat "$KEYS/wechatpay_test_private_pkcs8.pem")" \
  dotnet tools/PaymentFunctions.Fakes/bin/Release/net10.0/PaymentFunctions.Fakes.dll --urls "http://127.0.0.1:$FAKE_PORT" \
  >"$LOG_DIR/fake.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$FAKE_PORT/" fake "${pids[-1]}"

export WeChatPay__MerchantPrivateKey="$(cat "$KEYS/merchant_test_private_pkcs8.pem")"
export "WeChatPay__PublicKeys__$LOCAL_WECHAT_KEY_ID=$(cat "$KEYS/wechatpay_test_public.pem")"
(cd PaymentFunctions/bin/Release/net10.0 && \
  AzureWebJobsStorage="UseDevelopmentStorage=true" \
  Pyun__BaseUrl="http://127.0.0.1:$FAKE_PORT" Pyun__AppId="$LOCAL_PYUN_APP_ID" Pyun__AppSecret="$LOCAL_PYUN_SECRET" \
  Pyun__Merchant="$LOCAL_PYUN_MERCHANT" Pyun__NotifyUrl="http://127.0.0.1:$APP_PORT/api/notify/pyun" \
  FunctionKeys__Default="$LOCAL_FUNCTION_KEY" ASPNETCORE_ENVIRONMENT=Development \
  Refunds__CheckBackoff="00:00:02" \
  Events__Endpoints__local__Url="http://127.0.0.1:$FAKE_PORT/fake/receiver/local" \
  Events__Endpoints__local__Secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" \
  exec dotnet PaymentFunctions.dll --urls "http://127.0.0.1:$APP_PORT") >"$LOG_DIR/app.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$APP_PORT/api/health" app "${pids[-1]}"

cat <<TXT

PaymentFunctions is running standalone (its own queue listener) against Azurite and fake P云 / WeChat Pay.
  app                 http://127.0.0.1:$APP_PORT   (log: $LOG_DIR/app.log)
  fake P云/WeChat Pay http://127.0.0.1:$FAKE_PORT   (log: $LOG_DIR/fake.log)
  function key (x-functions-key): $LOCAL_FUNCTION_KEY
  events arrive at    http://127.0.0.1:$FAKE_PORT/fake/receiver/local   (GET it to see them; secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw)
                      npm run events [-- <orderId|outOrderNo>] lists them, each signature verified

Walk an order through, in another terminal (or run: bash tools/local/walkthrough.sh):
TXT
sed -n '/^# --- walkthrough ---$/,$p' tools/local/walkthrough.sh | tail -n +2
echo
echo "Press Ctrl+C to stop."
wait "${pids[@]}"
